"""Bybit adapter against the recorded linear tickers (2026-08-27 16:39:27Z, 50 rows, trimmed by the
recorder) and the full linear instrument list of 2026-08-09 (800 rows). Expected values are copied by hand
from those files."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import bybit
from funding_finder.exchanges.base import Role
from funding_finder.model import FLAGS, FundingRate
from funding_finder.recordings import load_json

OBSERVED = datetime(2026, 8, 27, 16, 39, 27, tzinfo=UTC)
"""Capture of the tickers body: envelope `time` 1787848767276."""
AT_20 = datetime(2026, 8, 27, 20, 0, tzinfo=UTC)  # nextFundingTime 1787860800000 (4 h rows)
AT_00 = datetime(2026, 8, 28, 0, 0, tzinfo=UTC)  # nextFundingTime 1787875200000 (8 h rows)


@pytest.fixture(scope="module")
def tickers() -> dict[str, Any]:
    return load_json("bybit", "v5-market-tickers-linear__arb-chain-bot-20260827.trimmed.json")


@pytest.fixture(scope="module")
def instruments() -> dict[str, Any]:
    return load_json("bybit", "v5-market-instruments-info-linear__cryptofeed-20260809.json")


@pytest.fixture(scope="module")
def rows(tickers: dict[str, Any], instruments: dict[str, Any]) -> dict[str, FundingRate]:
    result = bybit.build_rows({"tickers": tickers, "instruments-info": instruments}, OBSERVED)
    assert result.bad_rows == 0
    return {row.native_symbol: row for row in result.rows}


def assert_row(row: FundingRate, **expected: Any) -> None:
    for name, value in expected.items():
        actual = getattr(row, name)
        if name == "apr" and value is not None:
            assert actual == pytest.approx(value, rel=1e-12), name
        else:
            assert actual == value, name


def ticker(payload: dict[str, Any], symbol: str) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in payload["result"]["list"] if r["symbol"] == symbol))


def envelope(*rows: dict[str, Any]) -> dict[str, Any]:
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": "linear", "list": list(rows)},
        "time": 1787848767276,
    }


def test_spec_is_the_documented_cycle() -> None:
    spec = bybit.SPEC
    assert spec.hosts == {"api": "https://api.bybit.com"}
    assert [(e.name, e.path, e.role, dict(e.params)) for e in spec.endpoints] == [
        ("tickers", "/v5/market/tickers", Role.RATES, {"category": "linear"}),
        (
            "instruments-info",
            "/v5/market/instruments-info",
            Role.INSTRUMENTS,
            {"category": "linear", "limit": "1000"},
        ),
    ]
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("ip", 600, 5.0, "ip")
    assert (limit.cost_of("tickers"), limit.cost_of("instruments-info")) == (1, 1)
    assert spec.check_envelope is bybit.check_envelope


def test_8h_row(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["BTCUSDT"],
        exchange="bybit",
        symbol="BTC/USDT:USDT",
        native_symbol="BTCUSDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.00002942,
        interval_hours=8,
        next_funding_time=AT_00,
        predicted_rate=None,
        mark_price=80307.55,
        index_price=80348.99,
        open_interest_usd=3966529709.94,
        volume_24h_usd=5099517077.4164,
        asset_class="crypto",
        apr=0.00002942 * 1095,
        observed_at=OBSERVED,
        flags=(),
    )


def test_4h_row(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["0GUSDT"],
        symbol="0G/USDT:USDT",
        base="0G",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        funding_rate=0.00005,
        interval_hours=4,
        next_funding_time=AT_20,
        mark_price=0.1641,
        index_price=0.1641,
        open_interest_usd=1571728.53,
        volume_24h_usd=395880.9502,
        apr=0.00005 * 2190,
        flags=(),
    )


def test_ticker_interval_wins_over_the_older_list(rows: dict[str, FundingRate]) -> None:
    # ACEUSDT: fundingIntervalHour "4" on 2026-08-27, fundingInterval 60 (min) in the list of 2026-08-09.
    assert_row(rows["ACEUSDT"], funding_rate=-0.00195129, interval_hours=4, next_funding_time=AT_20)


def test_multiplier_prefixes(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["1000PEPEUSDT"],
        symbol="1000PEPE/USDT:USDT",
        base="PEPE",
        multiplier=1000,
        funding_rate=0.0001,
        interval_hours=8,
        next_funding_time=AT_00,
        mark_price=0.0039168,
        open_interest_usd=59100241.12,
        volume_24h_usd=80368123.633,
    )
    assert_row(rows["1000000BABYDOGEUSDT"], base="BABYDOGE", multiplier=1_000_000, interval_hours=4)
    assert_row(rows["10000SATSUSDT"], base="SATS", multiplier=10_000, mark_price=0.00011828)
    assert_row(rows["4USDT"], symbol="4/USDT:USDT", base="4", multiplier=1)  # no letter after the digit


def test_stock_perp_is_tagged(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["AAPLUSDT"], symbol="AAPL/USDT:USDT", funding_rate=0.0, mark_price=314.62, asset_class="equity"
    )
    assert sum(row.asset_class == "equity" for row in rows.values()) == 6


def test_rows_missing_from_the_older_list_are_unlisted(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["ADIUSDT"],
        symbol="ADI/USDT:USDT",
        base="ADI",
        quote="USDT",
        settle="USDT",
        funding_rate=0.0,
        interval_hours=8,
        next_funding_time=AT_00,
        mark_price=375.39,
        open_interest_usd=146717.43,
        volume_24h_usd=886077.504,
        asset_class="crypto",  # unknown without the list entry
        flags=("unlisted",),
    )
    assert sorted(n for n, r in rows.items() if r.flags == ("unlisted",)) == ["ADIUSDT", "AEONUSDT"]


def test_row_count_matches_an_independent_filter(
    tickers: dict[str, Any], instruments: dict[str, Any], rows: dict[str, FundingRate]
) -> None:
    listing = {i["symbol"]: i for i in instruments["result"]["list"]}
    expected = {
        t["symbol"]
        for t in tickers["result"]["list"]
        if t["symbol"] not in listing
        or (
            listing[t["symbol"]]["contractType"] == "LinearPerpetual"
            and listing[t["symbol"]]["status"] == "Trading"
        )
    }
    assert set(rows) == expected
    assert len(rows) == 50
    hours = [row.interval_hours for row in rows.values()]
    assert (hours.count(4), hours.count(8)) == (28, 22)


def test_dated_futures_are_dropped(tickers: dict[str, Any], instruments: dict[str, Any]) -> None:
    dated = ticker(tickers, "BTCUSDT") | {
        "symbol": "BTCUSDT-25SEP26",
        "fundingRate": "",
        "fundingIntervalHour": "",
    }
    with_delivery = dated | {"deliveryTime": "1790323200000"}
    payload = envelope(with_delivery, ticker(tickers, "BTCUSDT"))
    for listing in (instruments, None):  # the ticker's own deliveryTime suffices
        result = bybit.build_rows({"tickers": payload, "instruments-info": listing}, OBSERVED)
        assert ([r.native_symbol for r in result.rows], result.bad_rows) == (["BTCUSDT"], 0)
    no_delivery = dated | {"fundingRate": "0.0001"}  # only the list's LinearFutures says it is dated
    result = bybit.build_rows({"tickers": envelope(no_delivery), "instruments-info": instruments}, OBSERVED)
    assert (result.rows, result.bad_rows) == ([], 0)


def test_usdc_perp_and_commodity(tickers: dict[str, Any], instruments: dict[str, Any]) -> None:
    btc_perp = ticker(tickers, "BTCUSDT") | {"symbol": "BTCPERP"}
    gold = ticker(tickers, "0GUSDT") | {"symbol": "XAUUSDT"}
    result = bybit.build_rows(
        {"tickers": envelope(btc_perp, gold), "instruments-info": instruments}, OBSERVED
    )
    perp, xau = result.rows
    assert_row(perp, symbol="BTC/USDC:USDC", quote="USDC", settle="USDC", open_interest_usd=3966529709.94)
    assert_row(xau, symbol="XAU/USDT:USDT", asset_class="commodity", flags=())
    (parsed,) = bybit.build_rows({"tickers": envelope(btc_perp), "instruments-info": None}, OBSERVED).rows
    assert_row(parsed, symbol="BTC/USDC:USDC", base="BTC", quote="USDC", settle="USDC", flags=("unfiltered",))


def test_interval_falls_back_to_list_minutes(tickers: dict[str, Any], instruments: dict[str, Any]) -> None:
    ace = ticker(tickers, "ACEUSDT")
    del ace["fundingIntervalHour"]
    (row,) = bybit.build_rows({"tickers": envelope(ace), "instruments-info": instruments}, OBSERVED).rows
    assert_row(row, interval_hours=1, apr=-0.00195129 * 8760, flags=())  # fundingInterval 60 minutes
    (row,) = bybit.build_rows({"tickers": envelope(ace), "instruments-info": None}, OBSERVED).rows
    assert_row(row, interval_hours=None, apr=None, flags=("interval_unknown", "unfiltered"))


def test_without_instruments_rows_are_unfiltered(tickers: dict[str, Any]) -> None:
    result = bybit.build_rows({"tickers": tickers, "instruments-info": None}, OBSERVED)
    got = {row.native_symbol: row for row in result.rows}
    assert (len(got), result.bad_rows) == (50, 0)
    assert all(row.flags == ("unfiltered",) for row in got.values())
    assert_row(
        got["1000PEPEUSDT"], symbol="1000PEPE/USDT:USDT", base="PEPE", multiplier=1000, interval_hours=8
    )
    assert_row(got["AAPLUSDT"], asset_class="crypto")  # symbolType is in the list only


def test_single_ticker_recording(instruments: dict[str, Any]) -> None:
    eth = load_json("bybit", "v5-market-tickers-linear-ETHUSDT__tripwire-20260917.json")
    observed = datetime(2026, 9, 17, 20, 45, 26, tzinfo=UTC)  # time 1789677926362
    (row,) = bybit.build_rows({"tickers": eth, "instruments-info": instruments}, observed).rows
    assert_row(
        row,
        symbol="ETH/USDT:USDT",
        funding_rate=0.00003531,
        interval_hours=8,
        next_funding_time=datetime(2026, 9, 18, 0, 0, tzinfo=UTC),  # 1789689600000
        mark_price=2450.48,
        index_price=2451.55,
        open_interest_usd=1954642843.92,
        volume_24h_usd=2692158450.415,
        flags=(),
    )


def test_malformed_rows_cost_only_themselves(tickers: dict[str, Any], instruments: dict[str, Any]) -> None:
    empty_rate = ticker(tickers, "BTCUSDT") | {"fundingRate": ""}
    missing = ticker(tickers, "ETHUSDT")
    del missing["fundingRate"]
    text_oi = ticker(tickers, "0GUSDT") | {"openInterestValue": "lots"}
    good = ticker(tickers, "ACEUSDT")
    payload = envelope(empty_rate, missing, text_oi, good)
    result = bybit.build_rows({"tickers": payload, "instruments-info": instruments}, OBSERVED)
    assert [r.native_symbol for r in result.rows] == ["ACEUSDT"]
    assert result.bad_rows == 3


def test_wrong_shapes(tickers: dict[str, Any]) -> None:
    with pytest.raises(BadPayload):
        bybit.build_rows({"tickers": {"retCode": 0, "result": {"list": {}}}}, OBSERVED)
    with pytest.raises(BadPayload):
        bybit.build_rows({"tickers": tickers["result"]["list"]}, OBSERVED)
    with pytest.raises(EmptyPayload):
        bybit.build_rows({"tickers": envelope()}, OBSERVED)
    unfiltered = bybit.build_rows(
        {"tickers": tickers, "instruments-info": {"retCode": 0, "result": None}}, OBSERVED
    )
    assert unfiltered.unusable == {"instruments-info"}
    assert unfiltered.rows and all("unfiltered" in row.flags for row in unfiltered.rows)


def test_check_envelope(tickers: dict[str, Any]) -> None:
    assert bybit.check_envelope("bybit", "tickers", tickers) is None
    for code in (10006, 10429):
        with pytest.raises(RateLimited):
            bybit.check_envelope(
                "bybit", "tickers", {"retCode": code, "retMsg": "Too many visits!", "result": {}}
            )
    with pytest.raises(ExchangeError) as raised:
        bybit.check_envelope("bybit", "tickers", {"retCode": 10001, "retMsg": "params error", "result": {}})
    assert not isinstance(raised.value, RateLimited)
    assert "10001" in str(raised.value)
    with pytest.raises(BadPayload):
        bybit.check_envelope("bybit", "tickers", ["not", "an", "envelope"])


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
GOOD: dict[str, list[Any]] = {
    "symbol": ["BTCUSDT", "1000PEPEUSDT", "BTCPERP", "ACEUSDT"],
    "fundingRate": ["0.00002942", "-0.00195129", "0"],
    "nextFundingTime": ["1787875200000", "1787860800000", "", "0"],
    "fundingIntervalHour": ["8", "4", ""],
    "markPrice": ["80307.55", ""],
    "indexPrice": ["80348.99"],
    "openInterestValue": ["3966529709.94", ""],
    "turnover24h": ["5099517077.4164"],
    "deliveryTime": ["0", ""],
    "contractType": ["LinearPerpetual", "InversePerpetual"],
    "status": ["Trading"],
    "baseCoin": ["BTC", "1000PEPE"],
    "quoteCoin": ["USDT", "USDC"],
    "settleCoin": ["USDT", "USDC"],
    "fundingInterval": [480, 60, 0],
    "symbolType": ["", "stock", "commodity", "innovation", None],
}
"""Recorded-looking values, drawn far more often than the traps and arbitrary JSON."""
TRAPS: dict[str, list[Any]] = {
    "symbol": ["BTCUSDT-25SEP26", "USDT", "BTCUSD", ""],
    "fundingRate": ["", "nan", "1e400", True],
    "nextFundingTime": ["soon", 10**17, -(10**17), 2**70],
    "fundingIntervalHour": ["0", "-4", "x"],
    "markPrice": ["abc", "inf"],
    "indexPrice": [""],
    "openInterestValue": ["lots"],
    "turnover24h": [None],
    "deliveryTime": ["1790323200000", "x"],
    "contractType": ["LinearFutures", ""],
    "status": ["PreLaunch", "Settling"],
    "baseCoin": [""],
    "quoteCoin": [None],
    "settleCoin": [""],
    "fundingInterval": [-60, "x"],
    "symbolType": [[]],
}
TICKER_KEYS = (
    "symbol",
    "fundingRate",
    "nextFundingTime",
    "fundingIntervalHour",
    "markPrice",
    "indexPrice",
    "openInterestValue",
    "turnover24h",
    "deliveryTime",
)
LIST_KEYS = (
    "symbol",
    "contractType",
    "status",
    "baseCoin",
    "quoteCoin",
    "settleCoin",
    "fundingInterval",
    "symbolType",
)


def mostly(likely: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`likely` eight times as often as each of `others` (one_of would merge repeated branches)."""
    return st.sampled_from([likely] * 8 + list(others)).flatmap(lambda strategy: strategy)


def rows_of(*keys: str) -> st.SearchStrategy[list[Any]]:
    full = st.fixed_dictionaries(
        {key: mostly(st.sampled_from(GOOD[key]), st.sampled_from(TRAPS[key]), JSON) for key in keys}
    )
    partial = st.fixed_dictionaries({}, optional={key: JSON for key in keys})
    return st.lists(mostly(full, partial, JSON), min_size=1, max_size=6)


def enveloped(*keys: str) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({"result": mostly(st.fixed_dictionaries({"list": rows_of(*keys)}), JSON)})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rates=mostly(enveloped(*TICKER_KEYS), JSON),
    listing=mostly(enveloped(*LIST_KEYS), st.none(), st.none(), JSON),
)
def test_arbitrary_rows_never_break_build_rows(rates: Any, listing: Any) -> None:
    try:
        result = bybit.build_rows({"tickers": rates, "instruments-info": listing}, OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    listed = 0 if listing is None or "instruments-info" in result.unusable else len(listing["result"]["list"])
    assert len(result.rows) + result.bad_rows <= len(rates["result"]["list"]) + listed  # one outcome a row
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.open_interest_usd is None or math.isfinite(row.open_interest_usd)
        assert set(row.flags) <= set(FLAGS)
