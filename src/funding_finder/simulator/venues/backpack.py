"""Backpack Exchange: no REST limit is published; ccxt assumes 20 requests per second, which the
simulator enforces per IP across endpoints (the notes give no other figure or scope).

Over it: HTTP 429 with code `TOO_MANY_REQUESTS` (ccxt's error map) in Backpack's error shape
`{"code", "message"}`; no such body was recorded and the message text is the simulator's own.

Recorded: `markPrices` only, served from `.derived.` files made strict JSON (the bulk capture kept 8
rows and a trailing comma; the single-symbol capture dropped its array wrapper). No `/api/v1/markets`
body was ever recorded, so that path gets the simulator's 404 and the adapter's intervals stay unknown.
"""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

MARK_PRICES = "/api/v1/markPrices"

VENUE = SimVenue(
    id="backpack",
    routes={
        RouteKey("backpack", "GET", MARK_PRICES): "markPrices-8.derived.json",
        RouteKey(
            "backpack", "GET", MARK_PRICES, (("symbol", "BTC_USDC_PERP"),)
        ): "markPrices-BTC_USDC_PERP.derived.json",
    },
    limits=VenueLimits(
        pools=(Pool("ip", 20, 1.0),),
        charges=(Charge(ANY, ANY, (("ip", 1),)),),
        over_limit=OverLimit(
            429, fixed(b'{"code":"TOO_MANY_REQUESTS","message":"Too many requests, slow down"}')
        ),
    ),
    empty_body="[]",
)
