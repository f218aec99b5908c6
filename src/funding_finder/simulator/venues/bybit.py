"""Bybit v5: 600 requests / 5 s per IP for all traffic (docs/v5/rate-limit). Over it the docs describe an
HTTP 403 "access too frequent" IP ban; no body was ever recorded, so this text is the documented wording.

Inverse tickers are served from the docs example (the only inverse tickers body there is; its values are
illustrative); `instruments-info?category=inverse` has no recording and answers 404 here.

History: `GET /v5/market/funding/history` answers from the docs example (one ETHPERP row of 2022-12-26,
illustrative values) as the docs describe: `category` and `symbol` required, rows with startTime ≤
fundingRateTimestamp ≤ endTime, newest first, at most `limit` (1..200, default 200); endTime alone gives
the rows up to it, neither the newest; startTime alone is refused (retCode 10001). Other symbols: an
empty list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from funding_finder.recordings import load_json
from funding_finder.simulator.history import BadParameter, json_reply, select, whole
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

HISTORY_RECORDING = "funding-history.docs-example.json"


def _error(message: str) -> Reply:
    return json_reply({"retCode": 10001, "retMsg": message, "result": {}, "retExtInfo": {}, "time": 0})


def funding_history(params: Mapping[str, Any]) -> Reply:
    """`GET /v5/market/funding/history`: the recorded rows of `symbol` in `category`, selected by time and
    `limit` (see the module docstring), in the recorded envelope."""
    if not params.get("category") or not params.get("symbol"):
        return _error("params error: category and symbol are required")
    if params.get("startTime") and not params.get("endTime"):
        return _error("params error: endTime is required with startTime")
    try:
        start = whole(params, "startTime", 0)
        end = whole(params, "endTime", 2**62)
        limit = whole(params, "limit", 200, 1, 200)
    except BadParameter as exc:
        return _error(f"params error: {exc}")
    body = load_json("bybit", HISTORY_RECORDING)
    rows = body["result"]["list"] if params["category"] == body["result"]["category"] else []
    mine = [row for row in rows if row["symbol"] == params["symbol"]]
    body["result"]["list"] = select(mine, _time_ms, start, end, limit, newest_first=True)
    body["result"]["category"] = params["category"]
    return json_reply(body)


def _time_ms(row: dict[str, Any]) -> int:
    return int(row["fundingRateTimestamp"])


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
    handlers={("GET", "/v5/market/funding/history"): funding_history},
)
