"""Hyperliquid: 1200 weight / 60 s per IP for all REST; most info requests weigh 20, a few 2, userRole 60.
The 429 body is undocumented: the short JSON here is the simulator's own."""

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

LIGHT_INFO = (
    "l2Book",
    "allMids",
    "clearinghouseState",
    "orderStatus",
    "spotClearinghouseState",
    "exchangeStatus",
)

VENUE = SimVenue(
    id="hyperliquid",
    routes={
        RouteKey(
            "hyperliquid", "POST", "/info", (("type", "metaAndAssetCtxs"),)
        ): "info-metaAndAssetCtxs__tripwire-mainnet.json",
    },
    limits=VenueLimits(
        pools=(Pool("weight", 1200, 60.0),),
        charges=(
            *(Charge("POST", "/info", (("weight", 2),), match=(("type", kind),)) for kind in LIGHT_INFO),
            Charge("POST", "/info", (("weight", 60),), match=(("type", "userRole"),)),
            *(
                Charge("POST", "/info", (("weight", 20),), match=(("type", kind),))
                for kind in ("metaAndAssetCtxs", "predictedFundings", "fundingHistory")
            ),
            Charge(ANY, ANY, (("weight", 20),)),
        ),
        over_limit=OverLimit(429, fixed(b'{"error":"Too many requests"}')),
    ),
    empty_body='[{"universe":[]},[]]',  # metaAndAssetCtxs' [meta, assetCtxs] with no asset
    # Hyperliquid rejects an info body it cannot deserialize with HTTP 422; the body text is not
    # recorded, this JSON is the simulator's own.
    fallbacks={
        ("POST", "/info"): Reply(422, b'{"error":"Failed to deserialize the JSON body into the target type"}')
    },
)
