"""Paradex public REST: 1500 requests / min per IP (a continuously refilled token bucket, simulated as a
sliding 60 s window; docs "Rate limits → API"). Over it Paradex answers HTTP 429 with Retry-After (sent
on every answer since v1.118.5); no 429 body was recorded or documented, so the short JSON below is the
simulator's own.

No `market=ALL` summary was recorded: ALL is answered with the one recorded market's body (the same
`{"results": […]}` envelope, an ALL answer of one row), which is also the answer to that market by name.
"""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

SUMMARY = "/v1/markets/summary"
SUMMARY_RECORDING = "markets-summary-BTC-USD-PERP.json"

VENUE = SimVenue(
    id="paradex",
    routes={
        RouteKey("paradex", "GET", SUMMARY, (("market", "ALL"),)): SUMMARY_RECORDING,
        RouteKey("paradex", "GET", SUMMARY, (("market", "BTC-USD-PERP"),)): SUMMARY_RECORDING,
        RouteKey("paradex", "GET", "/v1/markets"): "markets-BTC-USD-PERP.json",
    },
    limits=VenueLimits(
        pools=(Pool("public", 1500, 60.0),),
        charges=(Charge(ANY, ANY, (("public", 1),)),),
        over_limit=OverLimit(429, fixed(b'{"message":"Too many requests"}'), retry_after=True),
    ),
    empty_body='{"results":[]}',
)
