"""WOO X REST v3: "10 requests per 1 second per IP address" for each public v3 endpoint (instruments,
futures, fundingRate, fundingRateHistory, orderbook, ...), each endpoint its own window.

Over a limit: HTTP 429 with `{"code":-1003,"message":"Rate limit exceed."}` — the body of ccxt's error
map (no WOO 429 body was ever recorded). The only recorded `futures` body answers `?symbol=PERP_BTC_USDT`;
the bulk call (no symbol) has the same envelope with every perpetual's row, so it is served that
one-row body too. An unknown symbol gets WOO's observed answer: HTTP 500, `success: false`.
"""

from __future__ import annotations

from funding_finder.simulator.spec import (
    ANY,
    Charge,
    OverLimit,
    Pool,
    Reply,
    RouteKey,
    SimVenue,
    VenueLimits,
    fixed,
)

FUNDING_RATE = "/v3/public/fundingRate"
FUTURES = "/v3/public/futures"
HISTORY = "/v3/public/fundingRateHistory"
BTC = (("symbol", "PERP_BTC_USDT"),)

VENUE = SimVenue(
    id="woox",
    routes={
        RouteKey("woox", "GET", FUNDING_RATE): "v3-public-fundingRate.json",
        RouteKey("woox", "GET", FUTURES): "v3-public-futures.json",
        RouteKey("woox", "GET", FUTURES, BTC): "v3-public-futures.json",
        RouteKey("woox", "GET", HISTORY, BTC): "v3-public-fundingRateHistory.json",
    },
    limits=VenueLimits(
        pools=(Pool("public-v3", 10, 1.0, scope=("endpoint",)),),
        charges=(Charge(ANY, ANY, (("public-v3", 1),)),),
        over_limit=OverLimit(429, fixed(b'{"code":-1003,"message":"Rate limit exceed."}')),
    ),
    empty_body='{"success":true,"data":{"rows":[]},"timestamp":{now_ms}}',
    fallbacks={
        ("GET", path): Reply(500, b'{"success":false,"message":"invalid symbol"}')
        for path in (FUTURES, HISTORY)
    },
)
