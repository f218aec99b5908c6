"""Hyperliquid: 1200 weight / 60 s per IP for all REST; most info requests weigh 20, a few 2, userRole 60.
The 429 body is undocumented: the short JSON here is the simulator's own.

History: `{"type": "fundingHistory", "coin", "startTime", "endTime"}` answers from the recorded BTC page
(1,038 rows, 2023-05-12 … 07-17, 8-hourly until 2023-06-08, hourly after): rows with startTime ≤ time ≤
endTime (endTime optional), oldest first, at most 500 (the documented cap per response). It weighs 20
plus 1 per 20 rows returned; a charge is fixed per request here, so every fundingHistory call is charged
its largest weight, 45 (a full page). Other coins: `[]`."""

from __future__ import annotations

from collections.abc import Mapping
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
    VenueLimits,
    fixed,
)

LIGHT_INFO = (
    "l2Book",
    "allMids",
    "clearinghouseState",
    "orderStatus",
    "spotClearinghouseState",
    "exchangeStatus",
)

HISTORY_RECORDING = "info-fundingHistory-BTC__hl-python-sdk.json"
HISTORY_PAGE_ROWS = 500
HISTORY_WEIGHT = 20 + HISTORY_PAGE_ROWS // 20
_history: dict[str, list[dict[str, Any]]] = {}


def funding_history(params: Mapping[str, Any]) -> Reply | None:
    """`POST /info` of type fundingHistory (None for every other type: those are recorded routes)."""
    if params.get("type") != "fundingHistory":
        return None
    if not isinstance(params.get("coin"), str) or params.get("startTime") is None:
        return VENUE.fallbacks[("POST", "/info")]
    try:
        start = whole(params, "startTime", 0)
        end = whole(params, "endTime", 2**62)
    except BadParameter:
        return VENUE.fallbacks[("POST", "/info")]
    if not _history:  # loaded on first use
        _history.update(merged_rows("hyperliquid", (HISTORY_RECORDING,), list, lambda r: r["coin"], _time_ms))
    rows = _history.get(params["coin"], [])
    return json_reply(select(rows, _time_ms, start, end, HISTORY_PAGE_ROWS, newest_first=False))


def _time_ms(row: dict[str, Any]) -> int:
    return int(row["time"])


VENUE = SimVenue(
    id="hyperliquid",
    routes={
        RouteKey(
            "hyperliquid", "POST", "/info", (("type", "metaAndAssetCtxs"),)
        ): "info-metaAndAssetCtxs__tripwire-mainnet.json",
    },
    limits=VenueLimits(
        pools=(Pool("weight", 1200, 60.0),),
        charges=(
            *(Charge("POST", "/info", (("weight", 2),), match=(("type", kind),)) for kind in LIGHT_INFO),
            Charge("POST", "/info", (("weight", 60),), match=(("type", "userRole"),)),
            Charge("POST", "/info", (("weight", HISTORY_WEIGHT),), match=(("type", "fundingHistory"),)),
            *(
                Charge("POST", "/info", (("weight", 20),), match=(("type", kind),))
                for kind in ("metaAndAssetCtxs", "predictedFundings")
            ),
            Charge(ANY, ANY, (("weight", 20),)),
        ),
        over_limit=OverLimit(429, fixed(b'{"error":"Too many requests"}')),
    ),
    empty_body='[{"universe":[]},[]]',  # metaAndAssetCtxs' [meta, assetCtxs] with no asset
    # Hyperliquid rejects an info body it cannot deserialize with HTTP 422; the body text is not
    # recorded, this JSON is the simulator's own.
    fallbacks={
        ("POST", "/info"): Reply(422, b'{"error":"Failed to deserialize the JSON body into the target type"}')
    },
    handlers={("POST", "/info"): funding_history},
)
