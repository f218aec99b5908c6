"""OKX v5 public endpoints: funding-rate 10 / 2 s per IP + instId (every `instId=ANY` call shares one
window); instruments 20 / 2 s per IP. Over a limit: HTTP 429 with the recorded code 50011 body."""

from __future__ import annotations

from funding_finder.simulator.spec import (
    Charge,
    OverLimit,
    Pool,
    Reply,
    RouteKey,
    SimVenue,
    VenueLimits,
    recorded,
)

FUNDING_RATE = "/api/v5/public/funding-rate"

VENUE = SimVenue(
    id="okx",
    routes={
        RouteKey(
            "okx", "GET", FUNDING_RATE, (("instId", "ANY"),)
        ): "public-funding-rate-instId-ANY.derived.json",
        RouteKey(
            "okx", "GET", FUNDING_RATE, (("instId", "BTC-USDT-SWAP"),)
        ): "public-funding-rate-BTC-USDT-SWAP__arb-chain-bot-20260827.json",
        RouteKey(
            "okx", "GET", FUNDING_RATE, (("instId", "ETH-USDT-SWAP"),)
        ): "public-funding-rate-ETH-USDT-SWAP__tripwire-20260917.json",
        RouteKey(
            "okx", "GET", "/api/v5/public/instruments", (("instType", "SWAP"),)
        ): "instruments-SWAP__nautilus.json",
    },
    limits=VenueLimits(
        pools=(
            Pool("funding-rate", 10, 2.0, scope=("param:instId",)),
            Pool("instruments", 20, 2.0),
        ),
        charges=(
            Charge("GET", FUNDING_RATE, (("funding-rate", 1),)),
            Charge("GET", "/api/v5/public/instruments", (("instruments", 1),)),
        ),
        over_limit=OverLimit(429, recorded("okx", "429.real-2024.json")),
    ),
    empty_body='{"code":"0","data":[],"msg":""}',
    # OKX answers an unknown instId with HTTP 200 and code 51000 (venue handbook, "Errors").
    fallbacks={
        ("GET", FUNDING_RATE): Reply(200, b'{"code":"51000","data":[],"msg":"Parameter instId error"}')
    },
)
