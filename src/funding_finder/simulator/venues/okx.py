"""OKX v5 public endpoints: funding-rate 10 / 2 s per IP + instId (every `instId=ANY` call shares one
window); instruments 20 / 2 s per IP; funding-rate-history its own 10 / 2 s per IP + instId. Over a
limit: HTTP 429 with the recorded code 50011 body.

History: `GET /api/v5/public/funding-rate-history` answers from the docs' response example (BTC-USD-SWAP,
two settlements of 2023-12-20; illustrative values): rows with `before` < fundingTime < `after` (both
exclusive, each optional), newest first, at most `limit` (1..400, default 400). Other instIds: no rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from funding_finder.recordings import load_json
from funding_finder.simulator.history import BadParameter, json_reply, select, whole
from funding_finder.simulator.spec import (
    Charge,
    OverLimit,
    Pool,
    Reply,
    RouteKey,
    SimVenue,
    VenueLimits,
    recorded,
)

FUNDING_RATE = "/api/v5/public/funding-rate"
HISTORY = "/api/v5/public/funding-rate-history"
HISTORY_RECORDINGS = {"BTC-USD-SWAP": "funding-rate-history-BTC-USD-SWAP.docs-example.json"}


def funding_history(params: Mapping[str, Any]) -> Reply:
    """The recorded settlements of `instId` between `before` and `after`, selected as documented."""
    try:
        after = whole(params, "after", 2**62)
        before = whole(params, "before", -1, -1)
        limit = whole(params, "limit", 400, 1, 400)
    except BadParameter as exc:
        return json_reply({"code": "51000", "data": [], "msg": f"Parameter error: {exc}"})
    name = HISTORY_RECORDINGS.get(params.get("instId", ""))
    body = load_json("okx", name) if name else {"code": "0", "msg": "", "data": []}
    rows = select(
        body["data"], lambda row: int(row["fundingTime"]), before + 1, after - 1, limit, newest_first=True
    )
    return json_reply({**body, "data": rows})


VENUE = SimVenue(
    id="okx",
    routes={
        RouteKey(
            "okx", "GET", FUNDING_RATE, (("instId", "ANY"),)
        ): "public-funding-rate-instId-ANY.derived.json",
        RouteKey(
            "okx", "GET", FUNDING_RATE, (("instId", "BTC-USDT-SWAP"),)
        ): "public-funding-rate-BTC-USDT-SWAP__arb-chain-bot-20260827.json",
        RouteKey(
            "okx", "GET", FUNDING_RATE, (("instId", "ETH-USDT-SWAP"),)
        ): "public-funding-rate-ETH-USDT-SWAP__tripwire-20260917.json",
        RouteKey(
            "okx", "GET", "/api/v5/public/instruments", (("instType", "SWAP"),)
        ): "instruments-SWAP__nautilus.json",
    },
    limits=VenueLimits(
        pools=(
            Pool("funding-rate", 10, 2.0, scope=("param:instId",)),
            Pool("instruments", 20, 2.0),
            Pool("funding-rate-history", 10, 2.0, scope=("param:instId",)),
        ),
        charges=(
            Charge("GET", FUNDING_RATE, (("funding-rate", 1),)),
            Charge("GET", "/api/v5/public/instruments", (("instruments", 1),)),
            Charge("GET", HISTORY, (("funding-rate-history", 1),)),
        ),
        over_limit=OverLimit(429, recorded("okx", "429.real-2024.json")),
    ),
    empty_body='{"code":"0","data":[],"msg":""}',
    # OKX answers an unknown instId with HTTP 200 and code 51000 (venue handbook, "Errors").
    fallbacks={
        ("GET", FUNDING_RATE): Reply(200, b'{"code":"51000","data":[],"msg":"Parameter instId error"}')
    },
    handlers={("GET", HISTORY): funding_history},
)
