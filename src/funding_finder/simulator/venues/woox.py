"""WOO X REST v3: "10 requests per 1 second per IP address" for each public v3 endpoint (instruments,
futures, fundingRate, fundingRateHistory, orderbook, ...), each endpoint its own window.

Over a limit: HTTP 429 with `{"code":-1003,"message":"Rate limit exceed."}` — the body of ccxt's error
map (no WOO 429 body was ever recorded). The only recorded `futures` body answers `?symbol=PERP_BTC_USDT`;
the bulk call (no symbol) has the same envelope with every perpetual's row, so it is served that
one-row body too. An unknown symbol gets WOO's observed answer: HTTP 500, `success: false`.

History: `GET /v3/public/fundingRateHistory` answers from the one recorded PERP_BTC_USDT row (2025-07-04
08:00Z): rows with startTime ≤ fundingRateTimestamp ≤ endTime (each optional), newest first, `size` a page
(default 25) and `page` (default 1), in the recorded envelope with `meta` counting the selection.
"""

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

FUNDING_RATE = "/v3/public/fundingRate"
FUTURES = "/v3/public/futures"
HISTORY = "/v3/public/fundingRateHistory"
BTC = (("symbol", "PERP_BTC_USDT"),)
HISTORY_RECORDINGS = {"PERP_BTC_USDT": "v3-public-fundingRateHistory.json"}
INVALID_SYMBOL = Reply(500, b'{"success":false,"message":"invalid symbol"}')


def funding_history(params: Mapping[str, Any]) -> Reply:
    """The recorded settlements of `symbol` in [startTime, endTime], newest first, page `page` of `size`."""
    name = HISTORY_RECORDINGS.get(params.get("symbol", ""))
    if name is None:
        return INVALID_SYMBOL
    try:
        start = whole(params, "startTime", 0)
        end = whole(params, "endTime", 2**62)
        size = whole(params, "size", 25, 1, 2**31)
        page = whole(params, "page", 1, 1, 2**31)
    except BadParameter as exc:
        return json_reply({"success": False, "code": -1000, "message": str(exc)}, 400)
    body = load_json("woox", name)
    rows = select(
        body["data"]["rows"], lambda r: int(r["fundingRateTimestamp"]), start, end, 2**62, newest_first=True
    )
    meta = {"total": len(rows), "recordsPerPage": size, "currentPage": page}
    return json_reply({**body, "data": {"rows": rows[(page - 1) * size : page * size], "meta": meta}})


VENUE = SimVenue(
    id="woox",
    routes={
        RouteKey("woox", "GET", FUNDING_RATE): "v3-public-fundingRate.json",
        RouteKey("woox", "GET", FUTURES): "v3-public-futures.json",
        RouteKey("woox", "GET", FUTURES, BTC): "v3-public-futures.json",
    },
    limits=VenueLimits(
        pools=(Pool("public-v3", 10, 1.0, scope=("endpoint",)),),
        charges=(Charge(ANY, ANY, (("public-v3", 1),)),),
        over_limit=OverLimit(429, fixed(b'{"code":-1003,"message":"Rate limit exceed."}')),
    ),
    empty_body='{"success":true,"data":{"rows":[]},"timestamp":{now_ms}}',
    fallbacks={("GET", FUTURES): INVALID_SYMBOL},
    handlers={("GET", HISTORY): funding_history},
)
