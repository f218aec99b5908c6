"""Bybit v5: 600 requests / 5 s per IP for all traffic (docs/v5/rate-limit). Over it the docs describe an
HTTP 403 "access too frequent" IP ban; no body was ever recorded, so this text is the documented wording.

Inverse tickers are served from the docs example (the only inverse tickers body there is; its values are
illustrative); `instruments-info?category=inverse` has no recording and answers 404 here."""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

VENUE = SimVenue(
    id="bybit",
    routes={
        RouteKey(
            "bybit", "GET", "/v5/market/tickers", (("category", "linear"),)
        ): "v5-market-tickers-linear__arb-chain-bot-20260827.trimmed.json",
        RouteKey(
            "bybit", "GET", "/v5/market/tickers", (("category", "linear"), ("symbol", "ETHUSDT"))
        ): "v5-market-tickers-linear-ETHUSDT__tripwire-20260917.json",
        RouteKey(
            "bybit", "GET", "/v5/market/tickers", (("category", "inverse"),)
        ): "tickers-inverse.docs-example.json",
        RouteKey(
            "bybit", "GET", "/v5/market/instruments-info", (("category", "linear"),)
        ): "v5-market-instruments-info-linear__cryptofeed-20260809.json",
    },
    limits=VenueLimits(
        pools=(Pool("ip", 600, 5.0),),
        charges=(Charge(ANY, ANY, (("ip", 1),)),),
        over_limit=OverLimit(403, fixed(b"access too frequent"), content_type="text/plain"),
    ),
    empty_body=(
        '{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[]},"retExtInfo":{},"time":{now_ms}}'
    ),
)
