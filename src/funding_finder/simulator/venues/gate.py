"""Gate futures v4: public endpoints 200 requests / 10 s per endpoint per IP; usage headers on every
answer. Only the USDT-settled contract list is recorded: `/api/v4/futures/btc/contracts` (coin-settled)
has no recording, not even a docs example, so it answers 404 here."""

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

VENUE = SimVenue(
    id="gate",
    routes={
        RouteKey(
            "gate", "GET", "/api/v4/futures/usdt/contracts"
        ): "futures-usdt-contracts__arb-chain-bot-20260827.trimmed.json",
    },
    limits=VenueLimits(
        pools=(Pool("public", 200, 10.0, scope=("endpoint",)),),
        charges=(Charge(ANY, ANY, (("public", 1),)),),
        over_limit=OverLimit(
            429, fixed(b'{"label":"TOO_MANY_REQUESTS","message":"Request Rate Limit Exceeded"}')
        ),
        headers=(
            UsageHeader("X-Gate-RateLimit-Limit", "public", "limit"),
            UsageHeader("X-Gate-RateLimit-Requests-Remain", "public", "remaining"),
            UsageHeader("X-Gate-RateLimit-Reset-Timestamp", "public", "reset_epoch_s"),
        ),
    ),
    empty_body="[]",
)
