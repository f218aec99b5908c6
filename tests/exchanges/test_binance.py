"""Binance USDⓈ-M adapter against the same-run recordings of 2026-07-04 15:56Z (premiumIndex, fundingInfo,
exchangeInfo). Expected values are copied by hand from those files."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload
from funding_finder.exchanges import binance
from funding_finder.exchanges.base import Role
from funding_finder.model import FLAGS, FundingRate
from funding_finder.recordings import load_json

RUN = "__noahark-20260704T1556Z.json"
OBSERVED = datetime(2026, 7, 4, 15, 56, 46, tzinfo=UTC)
"""Capture time: the latest premiumIndex row `time` (1783180606000) of the 15:55:43Z run."""
SETTLEMENT = datetime(2026, 7, 4, 16, 0, tzinfo=UTC)
"""`nextFundingTime` 1783180800000 of every kept row (1 h, 4 h and 8 h alike settle at 16:00Z)."""


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    return {
        "premiumIndex": load_json("binance", f"fapi-v1-premiumIndex{RUN}"),
        "fundingInfo": load_json("binance", f"fapi-v1-fundingInfo{RUN}"),
        "exchangeInfo": load_json("binance", f"fapi-v1-exchangeInfo{RUN}"),
    }


@pytest.fixture(scope="module")
def rows(recorded: dict[str, Any]) -> dict[str, FundingRate]:
    result = binance.build_rows(recorded, OBSERVED)
    assert result.bad_rows == 0
    return {row.native_symbol: row for row in result.rows}


def premium_row(recorded: dict[str, Any], symbol: str) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in recorded["premiumIndex"] if r["symbol"] == symbol))


def assert_row(row: FundingRate, **expected: Any) -> None:
    for name, value in expected.items():
        actual = getattr(row, name)
        if isinstance(value, float) and name in ("apr",):
            assert actual == pytest.approx(value, rel=1e-12), name
        else:
            assert actual == value, name


def test_spec_is_the_documented_cycle() -> None:
    spec = binance.SPEC
    assert spec.id == "binance"
    assert spec.hosts == {"api": "https://fapi.binance.com"}
    assert [(e.name, e.path, e.role) for e in spec.endpoints] == [
        ("premiumIndex", "/fapi/v1/premiumIndex", Role.RATES),
        ("fundingInfo", "/fapi/v1/fundingInfo", Role.EXTRA),
        ("exchangeInfo", "/fapi/v1/exchangeInfo", Role.INSTRUMENTS),
    ]
    weight, funding = spec.limits
    assert (weight.name, weight.capacity, weight.window_s) == ("REQUEST_WEIGHT", 2400, 60.0)
    assert [weight.cost_of(e) for e in ("premiumIndex", "fundingInfo", "exchangeInfo", "fundingRate")] == [
        10,
        0,
        1,
        1,
    ]
    assert (funding.name, funding.capacity, funding.window_s) == ("fundingInfo+fundingRate", 500, 300.0)
    assert [funding.cost_of(e) for e in ("premiumIndex", "fundingInfo", "exchangeInfo", "fundingRate")] == [
        0,
        1,
        0,
        1,
    ]
    assert spec.usage_headers == {"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"}


def test_8h_row(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["BTCUSDT"],
        exchange="binance",
        symbol="BTC/USDT:USDT",
        native_symbol="BTCUSDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.00009398,
        interval_hours=8,
        next_funding_time=SETTLEMENT,
        predicted_rate=None,
        mark_price=62909.9,
        index_price=62928.61695652,
        open_interest_usd=None,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=0.00009398 * 8760 / 8,
        observed_at=OBSERVED,
        flags=(),
    )


def test_4h_row(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["BTRUSDT"],
        symbol="BTR/USDT:USDT",
        base="BTR",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.00026519,
        interval_hours=4,
        next_funding_time=SETTLEMENT,
        mark_price=0.02022,
        index_price=0.02019556,
        asset_class="crypto",
        apr=0.00026519 * 2190,
        flags=(),
    )
    assert_row(
        rows["HBARUSDC"],
        symbol="HBAR/USDC:USDC",
        base="HBAR",
        quote="USDC",
        settle="USDC",
        funding_rate=-0.00000981,
        interval_hours=4,
        mark_price=0.07493712,
        index_price=0.07498687,
        flags=(),
    )


def test_1h_row(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["SLXUSDT"],
        symbol="SLX/USDT:USDT",
        native_symbol="SLXUSDT",
        base="SLX",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=-0.00200069,
        interval_hours=1,
        next_funding_time=SETTLEMENT,
        mark_price=0.34655,
        index_price=0.35448961,
        asset_class="crypto",
        apr=-0.00200069 * 8760,
        flags=(),
    )


def test_multiplier_prefix_and_other_quotes(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["1000PEPEUSDT"],
        symbol="1000PEPE/USDT:USDT",
        base="PEPE",
        multiplier=1000,
        quote="USDT",
        settle="USDT",
        funding_rate=0.0001,
        interval_hours=8,
        mark_price=0.002758,
        index_price=0.0027585,
    )
    assert_row(rows["ETHBTC"], symbol="ETH/BTC:BTC", base="ETH", quote="BTC", settle="BTC", funding_rate=0.0)
    assert_row(rows["BTCU"], symbol="BTC/U:U", base="BTC", quote="U", settle="U", funding_rate=0.0001)


def test_tradifi_perpetuals_are_kept_and_tagged(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["XAUUSDT"],
        symbol="XAU/USDT:USDT",
        base="XAU",
        funding_rate=0.0,
        interval_hours=4,
        mark_price=4179.23,
        index_price=4178.44732912,
        asset_class="commodity",
        flags=(),
    )
    assert_row(
        rows["TSLAUSDT"],
        symbol="TSLA/USDT:USDT",
        interval_hours=8,
        mark_price=398.96881211,
        asset_class="equity",
    )
    assert_row(rows["SKHYNIXUSDT"], base="SKHYNIX", mark_price=1605.7, asset_class="equity")  # KR_EQUITY
    assert_row(rows["OPENAIUSDT"], funding_rate=0.00005, asset_class="equity")  # PREMARKET
    classes = [row.asset_class for row in rows.values() if row.asset_class != "crypto"]
    # 118 TRADIFI_PERPETUAL contracts plus two INDEX perpetuals (BTCDOMUSDT, ALLUSDT)
    assert (classes.count("equity"), classes.count("commodity"), classes.count("index")) == (110, 8, 2)
    assert rows["BTCDOMUSDT"].asset_class == "index"


def test_filters(rows: dict[str, FundingRate]) -> None:
    for delisted in ("EOSUSDT", "MATICUSDT", "FRONTUSDT"):  # absent from exchangeInfo, rate 0.0001 at 16:00Z
        assert delisted not in rows
    assert "MLNUSDT" not in rows  # SETTLING with a non-zero nextFundingTime
    assert "HIFIUSDT" not in rows  # SETTLING with nextFundingTime 0
    assert "BTCUSDT_260925" not in rows  # CURRENT_QUARTER, nextFundingTime 0
    assert "GAIBUSDT" not in rows  # PENDING_TRADING


def test_row_count_matches_an_independent_filter(
    recorded: dict[str, Any], rows: dict[str, FundingRate]
) -> None:
    listed = {
        s["symbol"]
        for s in recorded["exchangeInfo"]["symbols"]
        if s["status"] == "TRADING" and s["contractType"] in ("PERPETUAL", "TRADIFI_PERPETUAL")
    }
    expected = {
        r["symbol"] for r in recorded["premiumIndex"] if r["symbol"] in listed and r["nextFundingTime"]
    }
    assert set(rows) == expected
    assert len(rows) == 691
    hours = [row.interval_hours for row in rows.values()]
    assert (hours.count(4), hours.count(8), hours.count(1)) == (440, 249, 2)


def test_without_exchange_info_rows_are_unfiltered(recorded: dict[str, Any]) -> None:
    result = binance.build_rows({**recorded, "exchangeInfo": None}, OBSERVED)
    got = {row.native_symbol: row for row in result.rows}
    assert result.bad_rows == 0
    assert len(got) == 823 - 31  # every row but those with nextFundingTime 0
    assert all(row.flags == ("unfiltered",) for row in got.values())
    assert "HIFIUSDT" not in got and "BTCUSDT_260925" not in got
    assert "EOSUSDT" in got  # delisting cannot be known without the list
    assert_row(
        got["BTCUSDT"],
        symbol="BTC/USDT:USDT",
        base="BTC",
        quote="USDT",
        settle="USDT",
        funding_rate=0.00009398,
        interval_hours=8,
    )
    assert_row(got["1000PEPEUSDT"], symbol="1000PEPE/USDT:USDT", base="PEPE", multiplier=1000)
    assert_row(got["BTCU"], symbol="BTC/U:U", quote="U", settle="U")
    assert_row(got["ETHUSD1"], symbol="ETH/USD1:USD1", quote="USD1", settle="USD1")
    assert_row(got["ETHBTC"], symbol="ETH/BTC:BTC", quote="BTC", settle="BTC")
    assert_row(got["XAUUSDT"], asset_class="crypto")  # unknown without exchangeInfo


def test_without_funding_info_the_interval_is_unknown(recorded: dict[str, Any]) -> None:
    result = binance.build_rows({**recorded, "fundingInfo": None}, OBSERVED)
    assert len(result.rows) == 691
    for row in result.rows:
        assert (row.interval_hours, row.apr, row.flags) == (None, None, ("interval_unknown",))


def test_symbols_absent_from_an_answered_funding_info_are_8h(recorded: dict[str, Any]) -> None:
    only_slx = [r for r in recorded["fundingInfo"] if r["symbol"] == "SLXUSDT"]
    got = {
        r.native_symbol: r for r in binance.build_rows({**recorded, "fundingInfo": only_slx}, OBSERVED).rows
    }
    assert got["SLXUSDT"].interval_hours == 1
    assert_row(got["BTRUSDT"], interval_hours=8, apr=0.00026519 * 1095, flags=())  # 4 h in the full list
    empty = {r.native_symbol: r for r in binance.build_rows({**recorded, "fundingInfo": []}, OBSERVED).rows}
    assert {r.interval_hours for r in empty.values()} == {8}


def test_malformed_rows_cost_only_themselves(recorded: dict[str, Any]) -> None:
    empty_rate = premium_row(recorded, "BTCUSDT") | {"lastFundingRate": ""}
    missing = premium_row(recorded, "BTRUSDT")
    del missing["lastFundingRate"]
    text_time = premium_row(recorded, "SLXUSDT") | {"nextFundingTime": "soon"}
    good = premium_row(recorded, "XAUUSDT")
    result = binance.build_rows(
        {**recorded, "premiumIndex": [empty_rate, missing, text_time, good]}, OBSERVED
    )
    assert [r.native_symbol for r in result.rows] == ["XAUUSDT"]
    assert result.bad_rows == 3


def test_malformed_reference_rows_are_counted(recorded: dict[str, Any]) -> None:
    info = copy.deepcopy(recorded["fundingInfo"])
    next(r for r in info if r["symbol"] == "SLXUSDT")["fundingIntervalHours"] = "one"
    exchange_info = copy.deepcopy(recorded["exchangeInfo"])
    del next(s for s in exchange_info["symbols"] if s["symbol"] == "BTCUSDT")["baseAsset"]
    result = binance.build_rows({**recorded, "fundingInfo": info, "exchangeInfo": exchange_info}, OBSERVED)
    got = {r.native_symbol: r for r in result.rows}
    assert result.bad_rows == 2
    assert "BTCUSDT" not in got  # its exchangeInfo entry was unusable
    assert got["SLXUSDT"].interval_hours == 8  # its fundingInfo entry was unusable: documented default
    assert len(got) == 690


def test_wrong_shapes(recorded: dict[str, Any]) -> None:
    rate_limited = load_json("binance", "429-spot-2019.real.json")  # a {"code": -1003, ...} object
    with pytest.raises(BadPayload):
        binance.build_rows({**recorded, "premiumIndex": rate_limited}, OBSERVED)
    with pytest.raises(EmptyPayload):
        binance.build_rows({**recorded, "premiumIndex": []}, OBSERVED)


def test_a_wrong_shaped_secondary_payload_counts_as_a_failed_call(recorded: dict[str, Any]) -> None:
    for bad in ({"symbols": "BTCUSDT"}, {"serverTime": 1}, {"symbols": []}):
        result = binance.build_rows({**recorded, "exchangeInfo": bad}, OBSERVED)
        assert result.unusable == {"exchangeInfo"}
        assert len(result.rows) == 792 and all("unfiltered" in row.flags for row in result.rows)
    result = binance.build_rows({**recorded, "fundingInfo": {"symbol": "BTCUSDT"}}, OBSERVED)
    assert result.unusable == {"fundingInfo"}
    assert len(result.rows) == 691 and all(row.interval_hours is None for row in result.rows)


def test_no_error_envelope_inside_http_200(recorded: dict[str, Any]) -> None:
    # Binance reports errors with HTTP 4xx; the default check accepts any decoded body.
    assert binance.SPEC.check_envelope("binance", "premiumIndex", recorded["premiumIndex"]) is None


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
    "symbol": ["BTCUSDT", "1000PEPEUSDT", "BTCU"],
    "lastFundingRate": ["0.00009398", "-0.00200069", "0.00000000", 0.0001],
    "nextFundingTime": [1783180800000, "1783180800000"],
    "markPrice": ["62909.90000000", None],
    "indexPrice": ["62928.61695652", None],
    "fundingIntervalHours": [1, 4, 8, "4"],
    "status": ["TRADING"],
    "contractType": ["PERPETUAL", "TRADIFI_PERPETUAL"],
    "baseAsset": ["BTC", "1000PEPE"],
    "quoteAsset": ["USDT", "U"],
    "marginAsset": ["USDT", "BTC"],
    "underlyingType": ["COIN", "EQUITY", "PREMARKET", "INDEX"],
}
"""Recorded-looking values, drawn far more often than the traps and arbitrary JSON."""
TRAPS: dict[str, list[Any]] = {
    "symbol": ["BTCUSDT_260925", "USDT", ""],
    "lastFundingRate": ["", "1e400", "nan", True],
    "nextFundingTime": [0, 10**17, -(10**17), 2**70, "1.5"],
    "markPrice": ["", "abc", "inf"],
    "indexPrice": [""],
    "fundingIntervalHours": [0, -8, ""],
    "status": ["SETTLING", "PENDING_TRADING"],
    "contractType": ["CURRENT_QUARTER", ""],
    "baseAsset": [""],
    "quoteAsset": [""],
    "marginAsset": [None],
    "underlyingType": ["KR_EQUITY", None],
}


def mostly(likely: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`likely` eight times as often as each of `others` (one_of would merge repeated branches)."""
    return st.sampled_from([likely] * 8 + list(others)).flatmap(lambda strategy: strategy)


def rows_of(*keys: str) -> st.SearchStrategy[list[Any]]:
    full = st.fixed_dictionaries(
        {key: mostly(st.sampled_from(GOOD[key]), st.sampled_from(TRAPS[key]), JSON) for key in keys}
    )
    partial = st.fixed_dictionaries({}, optional={key: JSON for key in keys})
    return st.lists(mostly(full, partial, JSON), min_size=1, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    premium=mostly(rows_of("symbol", "lastFundingRate", "nextFundingTime", "markPrice", "indexPrice"), JSON),
    info=mostly(rows_of("symbol", "fundingIntervalHours"), st.none(), JSON),
    exchange_info=mostly(
        st.fixed_dictionaries(
            {
                "symbols": rows_of(
                    "symbol",
                    "status",
                    "contractType",
                    "baseAsset",
                    "quoteAsset",
                    "marginAsset",
                    "underlyingType",
                )
            }
        ),
        st.none(),
        st.none(),
        JSON,
    ),
)
def test_arbitrary_rows_never_break_build_rows(premium: Any, info: Any, exchange_info: Any) -> None:
    payloads = {"premiumIndex": premium, "fundingInfo": info, "exchangeInfo": exchange_info}
    try:
        result = binance.build_rows(payloads, OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    assert result.bad_rows >= 0
    listed = (
        0 if exchange_info is None or "exchangeInfo" in result.unusable else len(exchange_info["symbols"])
    )
    funding_info = 0 if not isinstance(info, list) else len(info)
    assert len(result.rows) + result.bad_rows <= len(premium) + funding_info + listed  # one outcome a row
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.next_funding_time is not None and row.next_funding_time.tzinfo is not None
        assert row.interval_hours is None or row.interval_hours > 0
        assert set(row.flags) <= set(FLAGS)
