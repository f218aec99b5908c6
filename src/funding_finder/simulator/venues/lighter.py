"""Lighter mainnet REST: standard (unauthenticated) accounts get 60 requests per rolling minute per IP,
unweighted (https://apidocs.lighter.xyz/docs/rate-limits). The docs name HTTP 429 (and 405 from the
firewall) for a breach, but a breach was also recorded answered with HTTP 200 and
`{"code":23000,"message":"Too Many Requests!"}` (on the Robinhood-chain deployment, which runs the same
API). That recorded body in HTTP 200 is the simulator's answer: it is the harder case for a client,
which must read the body to notice it was limited.
"""

from __future__ import annotations

from funding_finder.simulator.spec import (
    ANY,
    Charge,
    OverLimit,
    Pool,
    RouteKey,
    SimVenue,
    VenueLimits,
    recorded,
)

VENUE = SimVenue(
    id="lighter",
    routes={
        RouteKey("lighter", "GET", "/api/v1/funding-rates"): "funding-rates.json",
        RouteKey("lighter", "GET", "/api/v1/orderBookDetails"): "orderBookDetails.json",
    },
    limits=VenueLimits(
        pools=(Pool("standard", 60, 60.0),),
        charges=(Charge(ANY, ANY, (("standard", 1),)),),
        over_limit=OverLimit(
            200, recorded("lighter", "rh-api-v1-funding-rates-ratelimited-http200__rs-fixture.json")
        ),
    ),
    empty_body='{"code":200,"funding_rates":[]}',
)
