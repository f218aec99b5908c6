"""Phemex public REST: https://github.com/phemex/phemex-api-docs/blob/master/Generic-API-Info.en.md

Limits: every IP 5000 requests per 5 minutes (over it the IP is blocked for the next 5 minutes), and the
"Others" group (market data, catalog) 100 requests per minute; both count every request here. Over a limit:
HTTP 429 (documented); the body is unverified, so the documented REST response format `{code, msg, data}`
is sent. Every answer carries the documented `x-ratelimit-remaining` / `x-ratelimit-capacity` headers of
the Others group (its header names have no group suffix).

Recordings: the ticker `/all` bodies are derived from the docs' single-symbol examples (see
recordings/SOURCES.md). `/public/products` answers the only recorded catalog, captured in 2021 at the
catalog's older path `/exchange/public/cfg/v2/products` (same `data` object: `ratioScale`, `currencies`,
`products`, ...). It predates `perpProductsV2` and `fundingInterval`, so linear rows come out `unfiltered`
and every interval unknown: a stand-in for the shape, not today's list.
"""

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

CATALOG = "exchange-public-cfg-v2-products__cryptofeed-20210703.json"

VENUE = SimVenue(
    id="phemex",
    routes={
        RouteKey("phemex", "GET", "/md/v2/ticker/24hr/all"): "md-v2-ticker-24hr-all.derived.json",
        RouteKey("phemex", "GET", "/md/ticker/24hr/all"): "md-ticker-24hr-all.derived.json",
        RouteKey(
            "phemex", "GET", "/md/v2/ticker/24hr", (("symbol", "BTCUSDT"),)
        ): "md-v2-ticker-24hr-BTCUSDT.json",
        RouteKey(
            "phemex", "GET", "/md/ticker/24hr", (("symbol", "BTCUSD"),)
        ): "md-ticker-24hr-BTCUSD-inverse.json",
        RouteKey("phemex", "GET", "/public/products"): CATALOG,
        RouteKey("phemex", "GET", "/exchange/public/cfg/v2/products"): CATALOG,
    },
    limits=VenueLimits(
        pools=(Pool("ip", 5000, 300.0), Pool("others", 100, 60.0)),
        charges=(Charge(ANY, ANY, (("ip", 1), ("others", 1))),),
        over_limit=OverLimit(429, fixed(b'{"code":429,"msg":"Too many requests","data":null}')),
        headers=(
            UsageHeader("x-ratelimit-remaining", "others", "remaining"),
            UsageHeader("x-ratelimit-capacity", "others", "limit"),
        ),
    ),
    empty_body='{"error":null,"id":0,"result":[]}',
)
