"""Crypto.com Exchange: public methods 100 requests / s per IP, counted per method ("Rate limits").

Over the limit: HTTP 429 with code 42901 `TOO_MANY_REQUESTS` (documented code and name; no body was
recorded, so the envelope here is the simulator's own, in the venue's response shape).

History: `get-valuations?valuation_type=funding_hist` answers from the recorded hourly rows (BTCUSD-PERP 3,
ETHUSD-PERP and SOLUSD-PERP 1 each, 2026-08-27): rows with start_ts ≤ t ≤ end_ts, newest first as
recorded, at most `count` (default 25). The method's defaults for absent times (end: now; start: a day
before the end) are this simulator's reading of the docs, unverified. The estimate calls of the same
path stay recorded routes. Other instruments: no rows."""

from __future__ import annotations

import time
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

VALUATIONS = "/exchange/v1/public/get-valuations"


def _estimate(instrument: str) -> tuple[RouteKey, str]:
    match = (("instrument_name", instrument), ("valuation_type", "estimated_funding_rate"))
    return (
        RouteKey("cryptocom", "GET", VALUATIONS, match),
        f"exchange-v1-public-get-valuations-estimated_funding_rate-{instrument}__arb-chain-bot-20260827.json",
    )


HISTORY_INSTRUMENTS = ("BTCUSD-PERP", "ETHUSD-PERP", "SOLUSD-PERP")
DAY_MS = 86_400_000


def _history_recording(instrument: str) -> str:
    return f"exchange-v1-public-get-valuations-funding_hist-{instrument}__arb-chain-bot-20260827.json"


def funding_history(params: Mapping[str, Any]) -> Reply | None:
    """`get-valuations` of type funding_hist (None for the other types: recorded routes)."""
    if params.get("valuation_type") != "funding_hist":
        return None
    instrument = params.get("instrument_name", "")
    try:
        end = whole(params, "end_ts", int(time.time() * 1000))
        start = whole(params, "start_ts", end - DAY_MS)
        count = whole(params, "count", 25, 1, 2**31)
    except BadParameter as exc:
        return json_reply(
            {"id": -1, "method": "public/get-valuations", "code": 40003, "message": str(exc)}, 400
        )
    name = _history_recording(instrument if instrument in HISTORY_INSTRUMENTS else HISTORY_INSTRUMENTS[0])
    body = load_json("cryptocom", name)
    rows = body["result"]["data"] if instrument in HISTORY_INSTRUMENTS else []
    body["result"] = {**body["result"], "instrument_name": instrument}
    body["result"]["data"] = select(rows, lambda row: int(row["t"]), start, end, count, newest_first=True)
    return json_reply(body)


VENUE = SimVenue(
    id="cryptocom",
    routes=dict(
        [
            (
                RouteKey("cryptocom", "GET", "/exchange/v1/public/get-instruments"),
                "exchange-v1-public-get-instruments__arb-chain-bot-20260827.trimmed.json",
            ),
            *(_estimate(instrument) for instrument in ("BTCUSD-PERP", "ETHUSD-PERP", "SOLUSD-PERP")),
        ]
    ),
    limits=VenueLimits(
        pools=(Pool("per-method", 100, 1.0, scope=("endpoint",)),),
        charges=(Charge(ANY, ANY, (("per-method", 1),)),),
        over_limit=OverLimit(
            429,
            fixed(b'{"id":-1,"method":"public/get-valuations","code":42901,"message":"TOO_MANY_REQUESTS"}'),
        ),
    ),
    empty_body='{"id":-1,"method":"public/get-valuations","code":0,"result":{"data":[]}}',
    handlers={("GET", VALUATIONS): funding_history},
)
