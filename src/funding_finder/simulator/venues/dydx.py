"""dYdX v4 indexer: 100 requests / 10 s per IP for every public endpoint (comlink config); answers carry
`RateLimit-Limit` and `RateLimit-Remaining`. Over the limit: HTTP 429 with `{"errors":[{"msg":"Too many
requests"}]}` (the indexer's error shape; no recorded body). The venue's `Retry-After` is in milliseconds,
which the simulator's seconds header cannot express, so none is sent; `RateLimit-Reset` (epoch ms) is not
sent either."""

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
    id="dydx",
    routes={
        RouteKey("dydx", "GET", "/v4/perpetualMarkets"): "v4-perpetualMarkets__denismoroz-fra.json",
    },
    limits=VenueLimits(
        pools=(Pool("indexer", 100, 10.0),),
        charges=(Charge(ANY, ANY, (("indexer", 1),)),),
        over_limit=OverLimit(429, fixed(b'{"errors":[{"msg":"Too many requests"}]}')),
        headers=(
            UsageHeader("RateLimit-Limit", "indexer", "limit"),
            UsageHeader("RateLimit-Remaining", "indexer", "remaining"),
        ),
    ),
    empty_body='{"markets":{}}',
)
