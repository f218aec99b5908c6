"""MEXC contract API v1: market endpoints 20 / 2 s, detail 1 / 5 s.

The docs state neither whether the 20 / 2 s is per endpoint nor per IP; the simulator takes the stricter
reading (one window shared by the market endpoints, per IP), so a client that passes here passes on the
venue. The recorded 510 body does not say its HTTP status. MEXC delivers its errors inside HTTP 200
envelopes, and 200 is the harder case for a client (it must read the body to notice), so 200.
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
    recorded,
)

VENUE = SimVenue(
    id="mexc",
    routes={
        RouteKey(
            "mexc", "GET", "/api/v1/contract/funding_rate"
        ): "api-v1-contract-funding_rate-all__thirdparty-20260909.json",
        RouteKey(
            "mexc", "GET", "/api/v1/contract/funding_rate/BTC_USDT"
        ): "api-v1-contract-funding_rate-BTC_USDT__arb-chain-bot-20260827.json",
        RouteKey(
            "mexc", "GET", "/api/v1/contract/ticker"
        ): "api-v1-contract-ticker__arb-chain-bot-20260827.trimmed.json",
    },
    limits=VenueLimits(
        pools=(Pool("market", 20, 2.0), Pool("detail", 1, 5.0)),
        charges=(
            Charge("GET", "/api/v1/contract/detail", (("detail", 1),)),
            Charge(ANY, ANY, (("market", 1),)),
        ),
        over_limit=OverLimit(200, recorded("mexc", "api-v1-contract-ticker-error510__arb-chain-bot.json")),
    ),
    empty_body='{"success":true,"code":0,"data":[]}',
    # MEXC: unknown contract → HTTP 200, success false, code 1001 (venue handbook, "Errors").
    fallbacks={
        ("GET", "/api/v1/contract/funding_rate/{symbol}"): Reply(
            200, b'{"success":false,"code":1001,"message":"Contract does not exist"}'
        )
    },
)
