"""MEXC: bulk funding_rate + ticker recordings → rows, values copied by hand from the recordings."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import mexc
from funding_finder.exchanges.base import Role
from funding_finder.recordings import load_json
from rows import by_native

FUNDING = "api-v1-contract-funding_rate-all__thirdparty-20260909.json"
TICKER = "api-v1-contract-ticker__arb-chain-bot-20260827.trimmed.json"
# Rows are stamped `timestamp` 1788950082772 ms = 2026-09-09T10:34:42.772Z; received just after.
OBSERVED = datetime(2026, 9, 9, 10, 34, 43, tzinfo=UTC)
ONE_H_SETTLEMENT = datetime(2026, 9, 9, 11, 0, tzinfo=UTC)  # nextSettleTime 1788951600000
FOUR_H_SETTLEMENT = datetime(2026, 9, 9, 12, 0, tzinfo=UTC)  # 1788955200000
EIGHT_H_SETTLEMENT = datetime(2026, 9, 9, 16, 0, tzinfo=UTC)  # 1788969600000


@pytest.fixture
def funding():
    return load_json("mexc", FUNDING)


@pytest.fixture
def ticker():
    return load_json("mexc", TICKER)


def build(funding, ticker=None, observed_at=OBSERVED):
    return mexc.build_rows({"funding_rate": funding, "ticker": ticker}, observed_at)


def test_spec_declares_bulk_funding_and_ticker_under_one_limit():
    spec = mexc.SPEC
    assert spec.id == "mexc"
    assert spec.hosts == {"api": "https://contract.mexc.com"}
    assert [(e.name, e.path, e.method, e.role) for e in spec.endpoints] == [
        ("funding_rate", "/api/v1/contract/funding_rate", "GET", Role.RATES),
        ("ticker", "/api/v1/contract/ticker", "GET", Role.EXTRA),
    ]
    assert all(not e.params for e in spec.endpoints)  # no symbol: the all-contracts forms
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("market", 20, 2.0, "ip")
    assert limit.cost_of("funding_rate") == limit.cost_of("ticker") == 1
    assert spec.check_envelope is mexc.check_envelope


def test_btc_8h_row_joined_with_ticker_volume(funding, ticker):
    btc = by_native(build(funding, ticker))["BTC_USDT"]
    assert btc.exchange == "mexc"
    assert btc.symbol == "BTC/USDT:USDT"
    assert (btc.base, btc.multiplier, btc.quote, btc.settle) == ("BTC", 1, "USDT", "USDT")
    assert btc.contract_type == "linear"
    assert btc.funding_rate == 6.2e-05
    assert btc.interval_hours == 8
    assert btc.next_funding_time == EIGHT_H_SETTLEMENT
    assert btc.predicted_rate is None
    assert btc.mark_price == 79090  # fairPrice of the funding row, not the ticker's older 80318.2
    assert btc.index_price == 79129.8
    assert btc.volume_24h_usd == 4477604519.13254  # ticker amount24 (USDT)
    assert btc.open_interest_usd is None  # holdVol is in contracts; no contract size without detail
    assert btc.asset_class == "crypto"
    assert btc.apr == pytest.approx(6.2e-05 * 8760 / 8)
    assert btc.flags == ()


def test_xau_4h_row_without_ticker_has_no_volume(funding, ticker):
    xau = by_native(build(funding, ticker))["XAU_USDT"]
    assert xau.symbol == "XAU/USDT:USDT"
    assert (xau.base, xau.quote, xau.settle, xau.contract_type) == ("XAU", "USDT", "USDT", "linear")
    assert xau.funding_rate == 3.4e-05
    assert xau.interval_hours == 4
    assert xau.next_funding_time == FOUR_H_SETTLEMENT
    assert xau.mark_price == 4399.08
    assert xau.index_price == 4397.34
    assert xau.volume_24h_usd is None  # XAU_USDT is not among the 50 ticker rows
    assert xau.apr == pytest.approx(3.4e-05 * 8760 / 4)


def test_soph_1h_row(funding, ticker):
    soph = by_native(build(funding, ticker))["SOPH_USDT"]
    assert soph.symbol == "SOPH/USDT:USDT"
    assert soph.funding_rate == -0.00013
    assert soph.interval_hours == 1
    assert soph.next_funding_time == ONE_H_SETTLEMENT
    assert soph.mark_price == 0.00542
    assert soph.index_price == 0.00543
    assert soph.apr == pytest.approx(-0.00013 * 8760)
    assert soph.flags == ()


def test_us30_24h_row_with_zero_rate(funding, ticker):
    us30 = by_native(build(funding, ticker))["US30_USDT"]
    assert us30.symbol == "US30/USDT:USDT"
    assert us30.funding_rate == 0.0
    assert us30.interval_hours == 24
    assert us30.next_funding_time == EIGHT_H_SETTLEMENT  # 16:00Z, as recorded
    assert us30.apr == 0.0
    assert us30.mark_price == 52551.36
    assert us30.index_price == 52548.46


def row_of(funding, symbol):
    return next(r for r in funding["data"] if r["symbol"] == symbol)


def test_rate_beyond_the_contracts_recorded_cap_is_flagged_implausible(funding):
    # Recorded BTC_USDT: fundingRate 6.2e-05 inside maxFundingRate 0.0018 / minFundingRate -0.0018.
    assert by_native(build(funding))["BTC_USDT"].flags == ()
    btc = row_of(funding, "BTC_USDT")
    btc["fundingRate"] = 0.0018  # exactly at the recorded cap: not flagged
    assert by_native(build(funding))["BTC_USDT"].flags == ()
    btc["fundingRate"] = -0.0018  # exactly at the recorded floor
    assert by_native(build(funding))["BTC_USDT"].flags == ()
    for beyond in (0.0018001, -0.0018001):
        btc["fundingRate"] = beyond
        assert "implausible_rate" in by_native(build(funding))["BTC_USDT"].flags


def test_cap_of_zero_is_no_bound_and_an_unreadable_cap_costs_nothing(funding):
    # Recorded US30_USDT: maxFundingRate 0 / minFundingRate 0 (no funding set on that index contract).
    row_of(funding, "US30_USDT")["fundingRate"] = 0.0001
    row_of(funding, "ETH_USDT")["maxFundingRate"] = "n/a"  # the floor -0.0018 still bounds it
    row_of(funding, "ETH_USDT")["fundingRate"] = 0.0019
    result = build(funding)
    rows = by_native(result)
    assert (len(result.rows), result.bad_rows) == (9, 0)
    assert rows["US30_USDT"].flags == ()
    assert rows["ETH_USDT"].flags == ("implausible_rate",)


def test_usd1_quote_is_linear_and_not_counted_as_usd(funding, ticker):
    # TEST-MADE ticker payload: the 50 recorded ticker rows plus one row for SPX500_USD1 (the recorded
    # BTC_USDT ticker row under that symbol), since the recorded ticker has no USD1 contract.
    usd1_ticker = dict(next(r for r in ticker["data"] if r["symbol"] == "BTC_USDT"), symbol="SPX500_USD1")
    with_usd1 = {**ticker, "data": [*ticker["data"], usd1_ticker]}
    del next(r for r in funding["data"] if r["symbol"] == "SPX500_USD1")["fairPrice"]
    rows = by_native(build(funding, with_usd1))
    spx = rows["SPX500_USD1"]
    assert spx.symbol == "SPX500/USD1:USD1"
    assert (spx.base, spx.quote, spx.settle, spx.contract_type) == ("SPX500", "USD1", "USD1", "linear")
    assert spx.funding_rate == 6e-06
    assert spx.interval_hours == 1
    assert spx.mark_price == 80318.2  # from the joined ticker row: the join took place
    assert spx.volume_24h_usd is None  # its amount24 4477604519.13254 is in USD1, not counted as USD
    assert rows["BTC_USDT"].volume_24h_usd == 4477604519.13254  # the same amount in USDT is


def test_every_funding_row_becomes_a_row(funding, ticker):
    result = build(funding, ticker)
    assert len(funding["data"]) == 9
    assert [row.native_symbol for row in result.rows] == [r["symbol"] for r in funding["data"]]
    assert result.bad_rows == 0
    intervals = sorted(row.interval_hours for row in result.rows)
    assert intervals == [1, 1, 1, 4, 4, 4, 8, 8, 24]
    joined = [row.native_symbol for row in result.rows if row.volume_24h_usd is not None]
    assert joined == ["BTC_USDT", "ETH_USDT"]
    assert by_native(result)["ETH_USDT"].volume_24h_usd == 2424816481.3178


def test_failed_ticker_call_leaves_volume_null(funding):
    result = build(funding, None)
    assert len(result.rows) == 9
    assert all(row.volume_24h_usd is None for row in result.rows)
    assert by_native(result)["BTC_USDT"].funding_rate == 6.2e-05


def test_ticker_of_wrong_shape_leaves_volume_null(funding):
    result = build(funding, {"success": True, "code": 0, "data": {"symbol": "BTC_USDT"}})
    assert len(result.rows) == 9
    assert all(row.volume_24h_usd is None for row in result.rows)


def test_ticker_fills_prices_the_rate_row_lacks(funding, ticker):
    del funding["data"][0]["fairPrice"]
    del funding["data"][0]["idxPrice"]
    btc = by_native(build(funding, ticker))["BTC_USDT"]
    assert btc.mark_price == 80318.2
    assert btc.index_price == 80349


def test_usd_quote_is_inverse_settled_in_base(funding, ticker):
    row = dict(funding["data"][0], symbol="BTC_USD")
    ticker["data"][0]["symbol"] = "BTC_USD"
    (btc,) = build({"success": True, "code": 0, "data": [row]}, ticker).rows
    assert btc.symbol == "BTC/USD:BTC"
    assert (btc.base, btc.quote, btc.settle, btc.contract_type) == ("BTC", "USD", "BTC", "inverse")
    assert btc.volume_24h_usd is None  # amount24 of a coin-settled contract is not known to be USD


def test_settled_rows_are_kept_and_flagged_stale(funding):
    result = build(funding, observed_at=ONE_H_SETTLEMENT)
    assert len(result.rows) == 9
    stale = sorted(row.native_symbol for row in result.rows if row.flags == ("stale",))
    assert stale == ["NGAS_USDT", "SOPH_USDT", "SPX500_USD1"]


def test_malformed_rows_are_skipped_and_counted(funding, ticker):
    rows = funding["data"]
    rows[0]["fundingRate"] = ""
    del rows[1]["fundingRate"]
    rows[2]["collectCycle"] = "eight"
    rows[3]["symbol"] = "USOIL"
    ticker["data"][0]["symbol"] = None
    result = build(funding, ticker)
    assert result.bad_rows == 5  # four rate rows and one ticker row
    assert [row.native_symbol for row in result.rows] == [r["symbol"] for r in rows[4:]]
    assert by_native(result)["FORM_USDT"].funding_rate == 5e-05


@pytest.mark.parametrize("value", [10**20, 10**16, "tomorrow", True])
def test_out_of_range_or_non_numeric_settlement_costs_the_row(funding, value):
    funding["data"][0]["nextSettleTime"] = value  # 10**20 ms: CPython raises OSError, not ValueError
    result = build(funding)
    assert (len(result.rows), result.bad_rows) == (8, 1)
    assert "BTC_USDT" not in by_native(result)


def test_missing_interval_is_unknown_not_invented(funding):
    del funding["data"][0]["collectCycle"]
    btc = by_native(build(funding))["BTC_USDT"]
    assert btc.interval_hours is None
    assert btc.apr is None
    assert btc.flags == ("interval_unknown",)


def test_single_symbol_form_is_bad_payload():
    single = load_json("mexc", "api-v1-contract-funding_rate-BTC_USDT__arb-chain-bot-20260827.json")
    with pytest.raises(BadPayload):
        build(single)


@pytest.mark.parametrize("payload", [[], "x", {"success": True, "code": 0}, {"data": "rows"}])
def test_wrong_shape_is_bad_payload(payload):
    with pytest.raises(BadPayload):
        build(payload)


def test_empty_data_is_empty_payload():
    with pytest.raises(EmptyPayload):
        build({"success": True, "code": 0, "data": []})


def test_success_false_is_exchange_error():
    body = {"success": False, "code": 1001, "message": "Contract does not exist"}
    with pytest.raises(ExchangeError, match="1001") as caught:
        mexc.check_envelope("mexc", "funding_rate", body)
    assert not isinstance(caught.value, RateLimited)
    assert (caught.value.venue, caught.value.endpoint) == ("mexc", "funding_rate")


def test_code_510_body_is_rate_limited():
    body = load_json("mexc", "api-v1-contract-ticker-error510__arb-chain-bot.json")
    assert "success" not in body
    with pytest.raises(RateLimited, match="Requests are too frequent"):
        mexc.check_envelope("mexc", "ticker", body)


def test_unknown_code_without_success_key_is_exchange_error():
    with pytest.raises(ExchangeError, match="602"):
        mexc.check_envelope("mexc", "ticker", {"code": 602, "msg": "Signature verification failed"})


def test_success_envelopes_pass(funding, ticker):
    assert mexc.check_envelope("mexc", "funding_rate", funding) is None
    assert mexc.check_envelope("mexc", "ticker", ticker) is None


NUMBERISH = st.sampled_from([7.3e-05, "7.3e-05", "", "abc", "NaN", 1e400, 0]) | st.floats() | st.integers()
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
SYMBOL = st.sampled_from(["BTC_USDT", "BTC_USD", "1000000MOG_USDT", "_USDT", "BTC_", "BTC"]) | JSONISH
FUNDING_ROW = (
    st.fixed_dictionaries(
        {},
        optional={
            "symbol": SYMBOL,
            "fundingRate": NUMBERISH | JSONISH,
            "collectCycle": st.sampled_from([1, 4, 8, 24, 0, -8]) | JSONISH,
            "nextSettleTime": st.sampled_from([1788969600000, 0, 10**20, -(10**20)]) | NUMBERISH,
            "fairPrice": NUMBERISH,
            "idxPrice": NUMBERISH | JSONISH,
        },
    )
    | JSONISH
)
TICKER_ROW = (
    st.fixed_dictionaries(
        {}, optional={"symbol": SYMBOL, "amount24": NUMBERISH, "fairPrice": NUMBERISH, "indexPrice": JSONISH}
    )
    | JSONISH
)


def envelope(rows):
    return rows.map(lambda data: {"success": True, "code": 0, "data": data}) | JSONISH


@settings(max_examples=300, deadline=None)
@given(envelope(st.lists(FUNDING_ROW, max_size=6)), st.none() | envelope(st.lists(TICKER_ROW, max_size=6)))
def test_arbitrary_json_never_breaks_build_rows(funding, ticker):
    try:
        result = build(funding, ticker)
    except (BadPayload, EmptyPayload):
        return
    assert all(math.isfinite(row.funding_rate) for row in result.rows)
    assert len(result.rows) <= len(funding["data"])


SINGLE = "api-v1-contract-funding_rate-BTC_USDT__arb-chain-bot-20260827.json"
TICKER_OBSERVED = datetime(2026, 8, 27, 16, 39, 29, tzinfo=UTC)  # the ticker's recorder time


def test_without_the_bulk_list_no_ticker_means_no_rates():
    with pytest.raises(EmptyPayload):
        build(None)


def test_the_fallback_asks_one_slice_of_the_tickers_symbols_per_cycle(ticker, monkeypatch):
    payloads = {"funding_rate": None, "ticker": ticker}
    calls = mexc.plan_fallback(payloads, cycle=0)
    assert len(calls) == 50 and calls[0].path == "/api/v1/contract/funding_rate/0G_USDT"
    assert {call.role for call in calls} == {Role.RATES} and calls[0].instrument == "0G_USDT"
    assert mexc.plan_fallback({"funding_rate": load_json("mexc", FUNDING), "ticker": ticker}, 0) == []
    monkeypatch.setattr(mexc, "PER_SYMBOL_CALLS", 20)  # 50 symbols: slices of 20, 20 and 10
    slices = [[call.instrument for call in mexc.plan_fallback(payloads, cycle)] for cycle in range(4)]
    assert [len(names) for names in slices] == [20, 20, 10, 20]
    assert slices[3] == slices[0]  # a full pass every three cycles, then round again
    assert sorted(slices[0] + slices[1] + slices[2]) == sorted(r["symbol"] for r in ticker["data"])


def test_the_fallback_joins_per_symbol_answers_and_leaves_the_rest_of_the_interval_unknown(ticker):
    payloads = {
        "funding_rate": None,
        "ticker": ticker,
        "funding_rate_symbol": {"BTC_USDT": load_json("mexc", SINGLE)},
    }
    rows = by_native(mexc.build_rows(payloads, TICKER_OBSERVED))
    assert len(rows) == 50  # every ticker contract with a rate
    btc = rows["BTC_USDT"]  # from its own answer: rate 7.3e-05, 8 h, settles 1787875200000 ms
    assert (btc.funding_rate, btc.interval_hours, btc.symbol) == (0.000073, 8, "BTC/USDT:USDT")
    assert btc.next_funding_time == datetime(2026, 8, 28, 0, 0, tzinfo=UTC)
    assert (btc.mark_price, btc.index_price, btc.flags) == (80319.3, 80349, ())
    assert btc.volume_24h_usd == 4477604519.13254  # amount24 from the ticker
    eth = rows["ETH_USDT"]  # not asked this cycle: the ticker's rate, nothing made up
    eth_ticker = next(r for r in ticker["data"] if r["symbol"] == "ETH_USDT")
    assert eth.funding_rate == eth_ticker["fundingRate"] and eth.mark_price == eth_ticker["fairPrice"]
    assert (eth.interval_hours, eth.next_funding_time, eth.apr, eth.flags) == (
        None,
        None,
        None,
        ("interval_unknown",),
    )


def test_a_failed_bulk_list_falls_back_to_the_documented_path_end_to_end(tmp_path):
    from fakes import ScriptedServer
    from funding_finder.collector import Collector, CollectorConfig
    from funding_finder.recordings import load_bytes
    from funding_finder.store import Store

    json_type = {"Content-Type": "application/json"}
    routes = {
        "/api/v1/contract/funding_rate/BTC_USDT": (200, json_type, load_bytes("mexc", SINGLE), 0.0),
        "/api/v1/contract/funding_rate": (
            502,
            {"Content-Type": "text/html"},
            b"<html>bad gateway</html>",
            0.0,
        ),
        "/api/v1/contract/ticker": (200, json_type, load_bytes("mexc", TICKER), 0.0),
    }
    store = Store(str(tmp_path / "funding.db"))
    with ScriptedServer(routes=routes) as server:
        config = CollectorConfig(base_urls={"mexc": server.url}, retries=0)
        (run,) = Collector(store, ["mexc"], config).run_cycle().runs
        asked = sorted(path for path, _ in server.seen if "/funding_rate/" in path)
    assert len(asked) == 50 and "/api/v1/contract/funding_rate/BTC_USDT" in asked
    # the bulk list (HTTP 502) and the 49 symbols this scripted venue does not know (404) failed
    assert (run.status, run.rows, run.requests) == ("partial", 50, 52)
    assert run.failures == {"http_5xx": 1, "http_4xx": 49}
    btc = {row.native_symbol: row for row in store.latest_rates()}["BTC_USDT"]
    assert (btc.funding_rate, btc.interval_hours) == (0.000073, 8)
    store.close()
