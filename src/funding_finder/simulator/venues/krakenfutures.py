"""Kraken Futures: public endpoints cost nothing in the published derivatives budget (500 per 10 s is for
private calls), so no public limit is documented; the handbook's front-door guess of 1 request per
second per IP is enforced here. Over it: HTTP 429 with Kraken's error envelope
`{"result":"error","error":"apiLimitExceeded"}` (documented shape, no recorded body; the status is
unverified).

History: `GET /derivatives/api/v4/historicalfundingrates?symbol=` has no paging parameters: it answers the
contract's whole recorded history (PF_XBTUSD: 6 hourly rows of 2026-08-27) in the recorded envelope;
another symbol gets the same envelope with no rates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from funding_finder.recordings import load_bytes, load_json
from funding_finder.simulator.history import json_reply
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

TICKERS = "/derivatives/api/v3/tickers"
INSTRUMENTS = "/derivatives/api/v3/instruments"
HISTORY = "/derivatives/api/v4/historicalfundingrates"
HISTORY_RECORDINGS = {
    "PF_XBTUSD": "derivatives-api-v4-historicalfundingrates-PF_XBTUSD__arb-chain-bot-20260827.trimmed.json"
}


def funding_history(params: Mapping[str, Any]) -> Reply:
    """The whole recorded history of `symbol`, its bytes as recorded; the recorded envelope with no rates
    for a symbol without a recording."""
    name = HISTORY_RECORDINGS.get(params.get("symbol", ""))
    if name is not None:
        return Reply(200, load_bytes("krakenfutures", name))
    body = load_json("krakenfutures", HISTORY_RECORDINGS["PF_XBTUSD"])
    return json_reply({**body, "rates": []})


VENUE = SimVenue(
    id="krakenfutures",
    routes={
        RouteKey(
            "krakenfutures", "GET", TICKERS
        ): "derivatives-api-v3-tickers__arb-chain-bot-20260827.trimmed.json",
        RouteKey("krakenfutures", "GET", INSTRUMENTS): "instruments.shape-only.json",
    },
    limits=VenueLimits(
        pools=(Pool("front-door", 1, 1.0),),
        charges=(Charge(ANY, ANY, (("front-door", 1),)),),
        over_limit=OverLimit(429, fixed(b'{"result":"error","error":"apiLimitExceeded"}')),
    ),
    empty_body='{"result":"success","tickers":[]}',
    handlers={("GET", HISTORY): funding_history},
)
