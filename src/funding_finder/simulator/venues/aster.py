"""Aster futures (asterdex/api-docs): REQUEST_WEIGHT 2400 per minute per IP; premiumIndex (with or without
symbol), fundingInfo and exchangeInfo weigh 1 each; `X-MBX-USED-WEIGHT-1M` on every answer.

Over the limit: HTTP 429 with `{"code":-1003,"msg":…}` (documented; no Aster body was recorded). The
message is the documented -1003 wording with the crossed pool's numbers; Aster documents no Retry-After.
The recorded bodies are the 2026-09-19 fragments of one live capture, served at the v1 paths they came
from (they are valid JSON of the endpoints' own shapes: arrays, and an object with `symbols`).
History: `GET /fapi/v1/fundingRate` selects the one recorded row (BTCUSDT, 2025-06-16 08:00Z) by
`startTime`, `endTime` and `limit` as Binance's copy of the API documents (oldest first, limit 1..1000,
default 100), weight 1 like every call; other symbols answer `[]`.
"""

from __future__ import annotations

import json

from funding_finder.simulator.history import binance_style
from funding_finder.simulator.spec import (
    ANY,
    Charge,
    OverLimit,
    Pool,
    Reply,
    RouteKey,
    SimVenue,
    UsageHeader,
    VenueLimits,
)


def _over_limit_body(pool: Pool) -> bytes:
    per = "minute" if pool.window_s == 60 else f"{pool.window_s:g} seconds"
    message = (
        f"Too many requests; current limit is {pool.capacity} requests per {per}. "
        "Please use the websocket for live updates to avoid polling the API."
    )
    return json.dumps({"code": -1003, "msg": message}, separators=(",", ":")).encode()


def _bad_parameter(message: str) -> Reply:
    return Reply(400, json.dumps({"code": -1100, "msg": message}).encode())


funding_history = binance_style("aster", ("fapi-v1-fundingRate-history.json",), _bad_parameter)


VENUE = SimVenue(
    id="aster",
    routes={
        RouteKey(
            "aster", "GET", "/fapi/v1/premiumIndex"
        ): "fapi-v1-premiumIndex.fragment-6rows__rs-fixture-20260919.json",
        RouteKey(
            "aster", "GET", "/fapi/v1/fundingInfo"
        ): "fapi-v1-fundingInfo.fragment-4rows__rs-fixture-20260919.json",
        RouteKey(
            "aster", "GET", "/fapi/v1/exchangeInfo"
        ): "fapi-v1-exchangeInfo.fields-trimmed-4symbols__rs-fixture-20260919.json",
    },
    limits=VenueLimits(
        pools=(Pool("weight", 2400, 60.0),),
        charges=(Charge(ANY, ANY, (("weight", 1),)),),
        over_limit=OverLimit(429, _over_limit_body),
        headers=(UsageHeader("X-MBX-USED-WEIGHT-1M", "weight", "used"),),
    ),
    empty_body="[]",
    handlers={("GET", "/fapi/v1/fundingRate"): funding_history},
)
