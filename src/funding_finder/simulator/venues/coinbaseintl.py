"""Coinbase International (INTX) REST: https://docs.cdp.coinbase.com/international-exchange/introduction/rate-limits-overview

The only published REST figure is 40 requests per second per API key (the unauthenticated per-IP figure is
undocumented), so this venue counts 40 per second per client IP. Over it: HTTP 429 with the documented
error shape `{"message": …}` and the documented message text; no Retry-After is documented.
"""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

VENUE = SimVenue(
    id="coinbaseintl",
    routes={RouteKey("coinbaseintl", "GET", "/api/v1/instruments"): "instruments.json"},
    limits=VenueLimits(
        pools=(Pool("rest", 40, 1.0),),
        charges=(Charge(ANY, ANY, (("rest", 1),)),),
        over_limit=OverLimit(
            429, fixed(b'{"message":"Rate limit exceeded - Server allows 100 requests per second"}')
        ),
    ),
    empty_body="[]",
)
