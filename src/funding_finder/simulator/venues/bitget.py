"""Bitget v2 mix market endpoints: 20 requests per 1 s per IP on each path ("Frequency limit: 20 times/1s
(IP)" on current-fund-rate; the tickers and contracts pages read the same), whatever the `productType`.

Only USDT-FUTURES was recorded (2026-08-27T16:39:29Z): `tickers` and `contracts` in bulk (50 rows each)
and `current-fund-rate` for one symbol (BTCUSDT). No bulk current-fund-rate body exists, so the bulk
request (no `symbol`; the docs make it optional) is answered with that recorded one-row body, unchanged:
a real answer of the same shape, one row of it. USDC-FUTURES and COIN-FUTURES have no recording and get
the simulator's 404 ("no recording for this request").

Over the limit: HTTP 429; no Bitget 429 body was ever recorded, so the body is the simulator's own in the
venue's envelope shape with code "429" (a code ccxt maps to Bitget's rate limit).
"""

from __future__ import annotations

import json
import time

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits

MARKET = "/api/v2/mix/market/"
USDT = ("productType", "USDT-FUTURES")
ONE_SYMBOL = "v2-mix-market-current-fund-rate-BTCUSDT__arb-chain-bot-20260827.json"


def _over_limit_body(_pool: Pool) -> bytes:
    body = {"code": "429", "msg": "Too Many Requests", "requestTime": int(time.time() * 1000), "data": None}
    return json.dumps(body, separators=(",", ":")).encode()


VENUE = SimVenue(
    id="bitget",
    routes={
        RouteKey("bitget", "GET", MARKET + "current-fund-rate", (USDT,)): ONE_SYMBOL,
        RouteKey("bitget", "GET", MARKET + "current-fund-rate", (USDT, ("symbol", "BTCUSDT"))): ONE_SYMBOL,
        RouteKey(
            "bitget", "GET", MARKET + "tickers", (USDT,)
        ): "v2-mix-market-tickers-USDT-FUTURES__arb-chain-bot-20260827.trimmed.json",
        RouteKey(
            "bitget", "GET", MARKET + "contracts", (USDT,)
        ): "v2-mix-market-contracts-USDT-FUTURES__arb-chain-bot-20260827.trimmed.json",
    },
    limits=VenueLimits(
        pools=(Pool("market", 20, 1.0, scope=("endpoint",)),),
        charges=(Charge(ANY, ANY, (("market", 1),)),),
        over_limit=OverLimit(429, _over_limit_body),
    ),
    empty_body='{"code":"00000","msg":"success","requestTime":{now_ms},"data":[]}',
)
