"""BitMart futures v2 ("Rate Limit" of developer-pro.bitmart.com/en/futuresv2): public market endpoints are
limited per IP, each with its own window: details, depth, funding-rate, funding-rate-history, kline,
markprice-kline, leverage-bracket and market-trade 12 / 2 s; open-interest 2 / 2 s.

Over a limit: HTTP 429 with code 30013 "Request too many requests" (the documented error table; no body
was recorded, so the body is the documented `code` / `message` shape). The `X-BM-RateLimit-*` headers
are not simulated: the docs describe `Remaining` as the count already used, against its name.
"""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

VENUE = SimVenue(
    id="bitmart",
    routes={
        RouteKey(
            "bitmart", "GET", "/contract/public/details"
        ): "contract-public-details__arb-chain-bot-20260827.trimmed.json",
    },
    limits=VenueLimits(
        pools=(Pool("public", 12, 2.0, scope=("endpoint",)), Pool("open-interest", 2, 2.0)),
        charges=(
            Charge("GET", "/contract/public/open-interest", (("open-interest", 1),)),
            Charge(ANY, ANY, (("public", 1),)),
        ),
        over_limit=OverLimit(429, fixed(b'{"code":30013,"message":"Request too many requests"}')),
    ),
    empty_body='{"code":1000,"message":"Ok","data":{"symbols":[]}}',
)
