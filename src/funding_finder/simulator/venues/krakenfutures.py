"""Kraken Futures: public endpoints cost nothing in the published derivatives budget (500 per 10 s is for
private calls), so no public limit is documented; the handbook's front-door guess of 1 request per
second per IP is enforced here. Over it: HTTP 429 with Kraken's error envelope
`{"result":"error","error":"apiLimitExceeded"}` (documented shape, no recorded body; the status is
unverified)."""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

TICKERS = "/derivatives/api/v3/tickers"
INSTRUMENTS = "/derivatives/api/v3/instruments"

VENUE = SimVenue(
    id="krakenfutures",
    routes={
        RouteKey(
            "krakenfutures", "GET", TICKERS
        ): "derivatives-api-v3-tickers__arb-chain-bot-20260827.trimmed.json",
        RouteKey("krakenfutures", "GET", INSTRUMENTS): "instruments.shape-only.json",
    },
    limits=VenueLimits(
        pools=(Pool("front-door", 1, 1.0),),
        charges=(Charge(ANY, ANY, (("front-door", 1),)),),
        over_limit=OverLimit(429, fixed(b'{"result":"error","error":"apiLimitExceeded"}')),
    ),
    empty_body='{"result":"success","tickers":[]}',
)
