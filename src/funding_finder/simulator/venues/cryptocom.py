"""Crypto.com Exchange: public methods 100 requests / s per IP, counted per method ("Rate limits").

Over the limit: HTTP 429 with code 42901 `TOO_MANY_REQUESTS` (documented code and name; no body was
recorded, so the envelope here is the simulator's own, in the venue's response shape)."""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

VALUATIONS = "/exchange/v1/public/get-valuations"


def _estimate(instrument: str) -> tuple[RouteKey, str]:
    match = (("instrument_name", instrument), ("valuation_type", "estimated_funding_rate"))
    return (
        RouteKey("cryptocom", "GET", VALUATIONS, match),
        f"exchange-v1-public-get-valuations-estimated_funding_rate-{instrument}__arb-chain-bot-20260827.json",
    )


VENUE = SimVenue(
    id="cryptocom",
    routes=dict(
        [
            (
                RouteKey("cryptocom", "GET", "/exchange/v1/public/get-instruments"),
                "exchange-v1-public-get-instruments__arb-chain-bot-20260827.trimmed.json",
            ),
            *(_estimate(instrument) for instrument in ("BTCUSD-PERP", "ETHUSD-PERP", "SOLUSD-PERP")),
        ]
    ),
    limits=VenueLimits(
        pools=(Pool("per-method", 100, 1.0, scope=("endpoint",)),),
        charges=(Charge(ANY, ANY, (("per-method", 1),)),),
        over_limit=OverLimit(
            429,
            fixed(b'{"id":-1,"method":"public/get-valuations","code":42901,"message":"TOO_MANY_REQUESTS"}'),
        ),
    ),
    empty_body='{"id":-1,"method":"public/get-valuations","code":0,"result":{"data":[]}}',
)
