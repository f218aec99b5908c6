"""CoinEx API v2: an IP limit of 400 requests per second across endpoints, a public market call costs 1
(docs.coinex.com/api/v2/rate-limit); every answer carries `X-RateLimit-Limit` / `X-RateLimit-Remaining`.

Over the limit: HTTP 429 with code 4213 (the IP's bucket is exhausted). No such body was recorded; the
shape is CoinEx's envelope (`code`, `data`, `message`) and the message text is the simulator's own.
The only recorded funding body answers `?market=BTCUSDT`; the bulk call (no `market`) has the same
envelope with every market's row, so it is served that one-row body too.

CoinEx ceased its perpetual futures on 2026-09-22; its API kept answering with frozen data, so replaying a
fixed body is close to what the live venue does now.
"""

from __future__ import annotations

from funding_finder.simulator.spec import (
    ANY,
    Charge,
    OverLimit,
    Pool,
    RouteKey,
    SimVenue,
    UsageHeader,
    VenueLimits,
    fixed,
)

FUNDING_RATE = "/v2/futures/funding-rate"

VENUE = SimVenue(
    id="coinex",
    routes={
        RouteKey("coinex", "GET", FUNDING_RATE): "v2-futures-funding-rate.json",
        RouteKey("coinex", "GET", FUNDING_RATE, (("market", "BTCUSDT"),)): "v2-futures-funding-rate.json",
    },
    limits=VenueLimits(
        pools=(Pool("ip", 400, 1.0),),
        charges=(Charge(ANY, ANY, (("ip", 1),)),),
        over_limit=OverLimit(
            429, fixed(b'{"code":4213,"data":{},"message":"rate limit exceeded, retry later"}')
        ),
        headers=(
            UsageHeader("X-RateLimit-Limit", "ip", "limit"),
            UsageHeader("X-RateLimit-Remaining", "ip", "remaining"),
        ),
    ),
    empty_body='{"code":0,"data":[],"message":"OK"}',
)
