"""KuCoin Futures (api-futures.kucoin.com): the "Public" resource pool holds 2000 weight per 30 s per IP
(all VIP levels) and `GET /api/v1/contracts/active` weighs 3. Over the pool KuCoin answers HTTP 429 with
`{"code":"429000","msg":"Too Many Requests"}`: the recorded body (ccxt issue 14597, 2022) is replayed.
No Retry-After is sent (the `gw-ratelimit-*` headers are reported on private endpoints only)."""

from __future__ import annotations

from funding_finder.simulator.spec import Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, recorded

CONTRACTS_ACTIVE = "/api/v1/contracts/active"

VENUE = SimVenue(
    id="kucoin",
    routes={
        RouteKey(
            "kucoin", "GET", CONTRACTS_ACTIVE
        ): "api-v1-contracts-active__arb-chain-bot-20260827.trimmed.json",
    },
    limits=VenueLimits(
        pools=(Pool("public", 2000, 30.0),),
        charges=(Charge("GET", CONTRACTS_ACTIVE, (("public", 3),)),),
        over_limit=OverLimit(429, recorded("kucoin", "429.real-2022.json")),
    ),
    empty_body='{"code":"200000","data":[]}',
)
