"""BingX perpetual swap v2: premiumIndex is in IP group 1; since 2024-04-15 group 1 allows 10 requests / s
in total per IP (venue handbook, "Rate limits"), the strictest of the published readings.

Over a limit the docs describe HTTP 429 ("Too Many Requests … breaking a request rate limit"), then 418
bans. No over-limit body was ever recorded; the body here is the documented shape: the envelope with
the rate-limitation code 100410 and the message the endpoint's error table gives for it.
"""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

VENUE = SimVenue(
    id="bingx",
    routes={
        RouteKey(
            "bingx", "GET", "/openApi/swap/v2/quote/premiumIndex"
        ): "openApi-swap-v2-quote-premiumIndex__arb-chain-bot-20260827.trimmed.json",
    },
    limits=VenueLimits(
        pools=(Pool("group1", 10, 1.0),),
        charges=(Charge(ANY, ANY, (("group1", 1),)),),
        over_limit=OverLimit(429, fixed(b'{"code":100410,"msg":"rate limited"}')),
    ),
    empty_body='{"code":0,"msg":"","data":[]}',
)
