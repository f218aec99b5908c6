"""dYdX v4 indexer: 100 requests / 10 s per IP for every public endpoint (comlink config); answers carry
`RateLimit-Limit` and `RateLimit-Remaining`. Over the limit: HTTP 429 with `{"errors":[{"msg":"Too many
requests"}]}` (the indexer's error shape; no recorded body). The venue's `Retry-After` is in milliseconds,
which the simulator's seconds header cannot express, so none is sent; `RateLimit-Reset` (epoch ms) is not
sent either.

History: `GET /v4/historicalFunding/{ticker}` answers from the two recorded BTC-USD answers (4 rows,
2025-07-29 and 2025-12-08): rows with effectiveAt ≤ `effectiveBeforeOrAt` (ISO; absent: every row),
newest first, at most `limit` (1..1000, the indexer's cap; default 1000). Other tickers: an empty list.
A malformed parameter is the indexer's HTTP 400 `errors` body."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from funding_finder.simulator.history import BadParameter, json_reply, merged_rows, select, whole
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
    fixed,
)

HISTORY_RECORDINGS = ("historicalFunding.json", "historicalFunding-3rows.json")
_history: dict[str, list[dict[str, Any]]] = {}


def funding_history(params: Mapping[str, Any]) -> Reply:
    """`GET /v4/historicalFunding/{ticker}`: the recorded rows of `ticker` selected as above."""
    try:
        limit = whole(params, "limit", 1000, 1, 1000)
        before = params.get("effectiveBeforeOrAt")
        end = 2**62 if before is None else _ms(before)
    except (BadParameter, ValueError) as exc:
        return json_reply({"errors": [{"msg": str(exc), "param": "query", "location": "query"}]}, 400)
    if not _history:  # loaded on first use
        _history.update(
            merged_rows("dydx", HISTORY_RECORDINGS, lambda body: body["historicalFunding"], _ticker, _time_ms)
        )
    rows = _history.get(params.get("ticker", ""), [])
    return json_reply({"historicalFunding": select(rows, _time_ms, 0, end, limit, newest_first=True)})


def _ticker(row: dict[str, Any]) -> str:
    return row["ticker"]


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


def _time_ms(row: dict[str, Any]) -> int:
    return _ms(row["effectiveAt"])


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
    handlers={("GET", "/v4/historicalFunding/{ticker}"): funding_history},
)
