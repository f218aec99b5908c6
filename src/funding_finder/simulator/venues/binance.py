"""Binance futures: USDⓈ-M (fapi) https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info
and COIN-M (dapi) https://developers.binance.com/docs/derivatives/coin-margined-futures/general-info.

fapi limits, also in its exchangeInfo.rateLimits: REQUEST_WEIGHT 2400 / 1 min per IP. premiumIndex weighs 1
with a symbol and 10 without; fundingInfo and fundingRate weigh 0 there but share a 500 / 5 min / IP bucket.
dapi has its own REQUEST_WEIGHT of 2400 / 1 min per IP (the recorded dapi exchangeInfo.rateLimits):
premiumIndex 1 / 10 the same way, exchangeInfo 1, fundingRate 1; dapi fundingInfo's weight is not stated,
so the stricter reading, 1. Only dapi exchangeInfo (2021) is recorded: dapi premiumIndex and fundingInfo
have no recording and answer 404 here. The weight header reports the fapi pool on every answer.
"""

from __future__ import annotations

import json

from funding_finder.recordings import load_json
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
    # The only recorded Binance 429 body is the spot API's of 2019 ("current limit is 1200 requests per
    # minute"); the code and wording are kept, the number and period are the exceeded pool's.
    recorded = load_json("binance", "429-spot-2019.real.json")
    per = "minute" if pool.window_s == 60 else f"{pool.window_s / 60:g} minutes"
    limit = f"{pool.capacity} requests per {per}"
    recorded["msg"] = recorded["msg"].replace("1200 requests per minute", limit)
    return json.dumps(recorded, separators=(",", ":")).encode()


HISTORY_RECORDINGS = (
    "fapi-v1-fundingRate-BTCUSDT-90rows__noahark-20260710.json",
    "fapi-v1-fundingRate-BTCUSDT-90rows__noahark-20260713.json",
    "fapi-v1-fundingRate-BTCUSDT-limit20__noahark-20260704T1556Z.json",
    "fapi-v1-fundingRate-ETHUSDT-limit20__noahark-20260704T1556Z.json",
    "fapi-v1-fundingRate-SOLUSDT-limit20__noahark-20260704T1556Z.json",
    "fapi-v1-fundingRate-XRPUSDT-limit20__noahark-20260704T1556Z.json",
    "fapi-v1-fundingRate-DOGEUSDT-limit20__noahark-20260704T1556Z.json",
    "fapi-v1-fundingRate-BNBUSDT-limit20__noahark-20260704T1556Z.json",
)


def _bad_parameter(message: str) -> Reply:
    return Reply(400, json.dumps({"code": -1100, "msg": message}).encode())


funding_history = binance_style("binance", HISTORY_RECORDINGS, _bad_parameter)
"""`GET /fapi/v1/fundingRate`: the recorded rows of `symbol` with startTime ≤ fundingTime ≤ endTime, oldest
first, at most `limit` (default 100, at most 1000) — the documented selection; `[]` for a symbol with
no recording."""


VENUE = SimVenue(
    id="binance",
    routes={
        RouteKey(
            "binance", "GET", "/fapi/v1/premiumIndex"
        ): "fapi-v1-premiumIndex__noahark-20260704T1556Z.json",
        RouteKey(
            "binance", "GET", "/fapi/v1/fundingInfo"
        ): "fapi-v1-fundingInfo__noahark-20260704T1556Z.json",
        RouteKey(
            "binance", "GET", "/fapi/v1/exchangeInfo"
        ): "fapi-v1-exchangeInfo__noahark-20260704T1556Z.json",
        RouteKey("binance", "GET", "/dapi/v1/exchangeInfo"): "dapi-v1-exchangeInfo__cryptofeed-20210722.json",
    },
    limits=VenueLimits(
        pools=(Pool("weight", 2400, 60.0), Pool("funding", 500, 300.0), Pool("dapi-weight", 2400, 60.0)),
        charges=(
            Charge("GET", "/fapi/v1/premiumIndex", (("weight", 1),), match=(("symbol", None),)),
            Charge("GET", "/fapi/v1/premiumIndex", (("weight", 10),)),
            Charge("GET", "/fapi/v1/exchangeInfo", (("weight", 1),)),
            Charge("GET", "/fapi/v1/fundingInfo", (("weight", 0), ("funding", 1))),
            Charge("GET", "/fapi/v1/fundingRate", (("weight", 0), ("funding", 1))),
            Charge("GET", "/dapi/v1/premiumIndex", (("dapi-weight", 1),), match=(("symbol", None),)),
            Charge("GET", "/dapi/v1/premiumIndex", (("dapi-weight", 10),)),
            Charge("GET", "/dapi/v1/{endpoint}", (("dapi-weight", 1),)),
            Charge(ANY, ANY, (("weight", 1),)),
        ),
        over_limit=OverLimit(429, _over_limit_body, retry_after=True),
        headers=(UsageHeader("X-MBX-USED-WEIGHT-1M", "weight", "used"),),
    ),
    empty_body="[]",
    handlers={("GET", "/fapi/v1/fundingRate"): funding_history},
)
