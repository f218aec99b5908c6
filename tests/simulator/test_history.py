"""The simulated history endpoints select recorded rows by the request's time parameters and limit, in
each venue's documented order; values are checked against the recordings."""

from __future__ import annotations

import json

from funding_finder.recordings import load_json
from funding_finder.simulator.routes import find_handler


def answer(venue, method, path, params):
    handler = find_handler(venue, method, path)
    assert handler is not None, (venue, method, path)
    reply = handler(params)
    return reply.status, json.loads(reply.body)


def test_hyperliquid_answers_at_most_500_rows_oldest_first_from_start_time():
    recorded = load_json("hyperliquid", "info-fundingHistory-BTC__hl-python-sdk.json")
    body = {"type": "fundingHistory", "coin": "BTC", "startTime": recorded[10]["time"]}
    status, rows = answer("hyperliquid", "POST", "/info", body)
    assert status == 200 and rows == recorded[10:510]
    status, rows = answer("hyperliquid", "POST", "/info", {**body, "endTime": recorded[12]["time"]})
    assert rows == recorded[10:13]
    assert find_handler("hyperliquid", "POST", "/info")({"type": "metaAndAssetCtxs"}) is None  # a route
    assert answer("hyperliquid", "POST", "/info", {"type": "fundingHistory", "coin": "BTC"})[0] == 422


def test_bybit_answers_newest_first_within_the_range_and_refuses_start_time_alone():
    [row] = load_json("bybit", "funding-history.docs-example.json")["result"]["list"]
    at = int(row["fundingRateTimestamp"])
    params = {"category": "linear", "symbol": "ETHPERP"}
    assert answer("bybit", "GET", "/v5/market/funding/history", {**params, "endTime": str(at)})[1]["result"][
        "list"
    ] == [row]
    before = {**params, "startTime": "0", "endTime": str(at - 1)}
    assert answer("bybit", "GET", "/v5/market/funding/history", before)[1]["result"]["list"] == []
    refused = answer("bybit", "GET", "/v5/market/funding/history", {**params, "startTime": "0"})[1]
    assert refused["retCode"] == 10001
    limit = answer("bybit", "GET", "/v5/market/funding/history", {**params, "limit": "201"})[1]
    assert limit["retCode"] == 10001


def test_okx_before_and_after_are_exclusive_and_rows_come_newest_first():
    newer, older = load_json("okx", "funding-rate-history-BTC-USD-SWAP.docs-example.json")["data"]
    path = "/api/v5/public/funding-rate-history"
    base = {"instId": "BTC-USD-SWAP"}
    assert answer("okx", "GET", path, base)[1]["data"] == [newer, older]
    assert answer("okx", "GET", path, {**base, "after": newer["fundingTime"]})[1]["data"] == [older]
    assert answer("okx", "GET", path, {**base, "before": older["fundingTime"]})[1]["data"] == [newer]
    assert answer("okx", "GET", path, {**base, "limit": "1"})[1]["data"] == [newer]
    assert answer("okx", "GET", path, {"instId": "ETH-USDT-SWAP"})[1]["data"] == []


def test_dydx_reads_the_ticker_from_the_path_and_effective_before_or_at():
    rows = load_json("dydx", "historicalFunding-3rows.json")["historicalFunding"]
    path = "/v4/historicalFunding/BTC-USD"
    status, body = answer("dydx", "GET", path, {"effectiveBeforeOrAt": rows[1]["effectiveAt"], "limit": "1"})
    assert status == 200 and body["historicalFunding"] == [rows[1]]
    assert answer("dydx", "GET", path, {"limit": "1001"})[0] == 400
    assert answer("dydx", "GET", "/v4/historicalFunding/ETH-USD", {})[1] == {"historicalFunding": []}


def test_cryptocom_counts_from_the_newest_and_leaves_estimates_to_their_routes():
    recorded = load_json(
        "cryptocom", "exchange-v1-public-get-valuations-funding_hist-BTCUSD-PERP__arb-chain-bot-20260827.json"
    )
    rows = recorded["result"]["data"]
    path = "/exchange/v1/public/get-valuations"
    params = {"instrument_name": "BTCUSD-PERP", "valuation_type": "funding_hist", "end_ts": str(rows[0]["t"])}
    assert answer("cryptocom", "GET", path, {**params, "count": "2"})[1]["result"]["data"] == rows[:2]
    window = {**params, "start_ts": str(rows[1]["t"]), "end_ts": str(rows[1]["t"])}
    assert answer("cryptocom", "GET", path, window)[1]["result"]["data"] == [rows[1]]
    estimate = {"instrument_name": "BTCUSD-PERP", "valuation_type": "estimated_funding_rate"}
    assert find_handler("cryptocom", "GET", path)(estimate) is None


def test_kraken_answers_the_whole_recorded_history_as_recorded():
    name = "derivatives-api-v4-historicalfundingrates-PF_XBTUSD__arb-chain-bot-20260827.trimmed.json"
    path = "/derivatives/api/v4/historicalfundingrates"
    assert answer("krakenfutures", "GET", path, {"symbol": "PF_XBTUSD"})[1] == load_json(
        "krakenfutures", name
    )
    assert answer("krakenfutures", "GET", path, {"symbol": "PF_ETHUSD"})[1]["rates"] == []
