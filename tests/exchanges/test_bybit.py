"""Bybit adapter against the recorded linear tickers (2026-08-27 16:39:27Z, 50 rows, trimmed by the
recorder) and the full linear instrument list of 2026-08-09 (800 rows). Expected values are copied by hand
from those files."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import (
    BadPayload,
    Banned,
    EmptyPayload,
    ExchangeError,
    HttpClientError,
    RateLimited,
)
from funding_finder.exchanges import bybit
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import assert_row

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
        ("tickers-inverse", "/v5/market/tickers", Role.RATES, {"category": "inverse"}),
        (
            "instruments-info-inverse",
            "/v5/market/instruments-info",
            Role.INSTRUMENTS,
            {"category": "inverse"},
        ),
    ]
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("ip", 600, 5.0, "ip")
    assert [limit.cost_of(e.name) for e in spec.endpoints] == [1, 1, 1, 1]
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


def test_rate_beyond_the_listed_cap_is_flagged_implausible(
    tickers: dict[str, Any], instruments: dict[str, Any], rows: dict[str, FundingRate]
) -> None:
    # Recorded BTCUSDT: fundingRate "0.00002942" (8 h); the list gives upperFundingRate "0.005" /
    # lowerFundingRate "-0.005". The ticker's own fundingCap "0.00333" is not read (no documented meaning).
    assert rows["BTCUSDT"].flags == ()

    def btc_flags(rate: str, listing: dict[str, Any] | None = instruments) -> tuple[str, ...]:
        btc = ticker(tickers, "BTCUSDT") | {"fundingRate": rate}
        (row,) = bybit.build_rows({"tickers": envelope(btc), "instruments-info": listing}, OBSERVED).rows
        return row.flags

    assert btc_flags("0.005") == btc_flags("-0.005") == ()  # exactly at the listed cap and floor
    assert btc_flags("0.004") == ()  # above the ticker's fundingCap, inside the list's bound
    assert btc_flags("0.0050001") == ("implausible_rate",)
    assert btc_flags("-0.0050001") == ("implausible_rate",)
    assert btc_flags("0.0050001", listing=None) == ("unfiltered",)  # no list: no cap known


def test_a_zero_listed_cap_is_no_bound(tickers: dict[str, Any], instruments: dict[str, Any]) -> None:
    listing = copy.deepcopy(instruments)
    btc = next(r for r in listing["result"]["list"] if r["symbol"] == "BTCUSDT")
    btc["upperFundingRate"] = btc["lowerFundingRate"] = "0"  # as the list sends on dated futures
    row = ticker(tickers, "BTCUSDT") | {"fundingRate": "0.0001"}
    (got,) = bybit.build_rows({"tickers": envelope(row), "instruments-info": listing}, OBSERVED).rows
    assert got.flags == ()


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


# -- inverse (category=inverse) --------------------------------------------------------------------------

INVERSE = "tickers-inverse.docs-example.json"
"""Bybit's documented example of `tickers?category=inverse` (illustrative, testnet-like values, 2025-10-13):
the only inverse tickers body there is, used for field names, types and units."""
INVERSE_OBSERVED = datetime(2025, 10, 13, 10, 46, 9, tzinfo=UTC)  # envelope `time` 1760352369814
INVERSE_SETTLEMENT = datetime(2025, 10, 13, 16, 0, tzinfo=UTC)  # nextFundingTime 1760371200000
TEST_MADE_INVERSE_LIST = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "category": "inverse",
        "list": [
            {
                "symbol": "BTCUSD",
                "contractType": "InversePerpetual",
                "status": "Trading",
                "baseCoin": "BTC",
                "quoteCoin": "USD",
                "settleCoin": "BTC",
                "fundingInterval": 480,
                "symbolType": "",
            },
            {
                "symbol": "BTCUSDH26",
                "contractType": "InverseFutures",
                "status": "Trading",
                "baseCoin": "BTC",
                "quoteCoin": "USD",
                "settleCoin": "BTC",
                "fundingInterval": 0,
                "symbolType": "",
            },
        ],
        "nextPageCursor": "",
    },
    "time": 1760352369814,
}
"""TEST-MADE, not a recording (no inverse instrument list was ever recorded): the documented instrument
fields with BTCUSD as an inverse perpetual, and a dated inverse future for the filter."""


@pytest.fixture(scope="module")
def inverse() -> dict[str, Any]:
    return load_json("bybit", INVERSE)


def test_inverse_docs_example_row_field_by_field(inverse: dict[str, Any]) -> None:
    result = bybit.build_rows(
        {"tickers-inverse": inverse, "instruments-info-inverse": None}, INVERSE_OBSERVED
    )
    assert result.bad_rows == 0
    (row,) = result.rows
    assert_row(
        row,
        exchange="bybit",
        symbol="BTC/USD:BTC",
        native_symbol="BTCUSD",
        base="BTC",
        multiplier=1,
        quote="USD",
        settle="BTC",
        contract_type="inverse",
        funding_rate=0.0001,
        interval_hours=8,  # fundingIntervalHour "8"
        next_funding_time=INVERSE_SETTLEMENT,
        predicted_rate=None,
        mark_price=114898.43,
        index_price=114890.92,
        open_interest_usd=240113967.0,  # openInterest, in USD contracts; openInterestValue 2089.79 is BTC
        volume_24h_usd=None,  # turnover24h 115.6907 is BTC; volume24h's unit is not stated
        asset_class="crypto",
        apr=0.0001 * 1095,
        observed_at=INVERSE_OBSERVED,
        flags=("unfiltered",),  # no inverse list
    )


def test_inverse_list_filters_and_lists_the_inverse_family(
    inverse: dict[str, Any], instruments: dict[str, Any]
) -> None:
    dated = ticker(inverse, "BTCUSD") | {"symbol": "BTCUSDH26"}  # TEST-MADE: a dated inverse ticker row
    other = ticker(inverse, "BTCUSD") | {"symbol": "ETHUSD"}  # TEST-MADE: a perpetual the list lacks
    payload = inverse | {"result": inverse["result"] | {"list": [*inverse["result"]["list"], dated, other]}}
    result = bybit.build_rows(
        {"tickers-inverse": payload, "instruments-info-inverse": TEST_MADE_INVERSE_LIST}, INVERSE_OBSERVED
    )
    got = {r.native_symbol: r for r in result.rows}
    assert (sorted(got), result.bad_rows) == (["BTCUSD", "ETHUSD"], 0)  # InverseFutures dropped
    assert got["BTCUSD"].flags == () and got["ETHUSD"].flags == ("unlisted",)
    assert_row(got["ETHUSD"], symbol="ETH/USD:ETH", settle="ETH", contract_type="inverse")
    # The linear list says nothing of inverse contracts: without the inverse list they stay unfiltered.
    both = {"tickers-inverse": inverse, "instruments-info": instruments, "instruments-info-inverse": None}
    assert [r.flags for r in bybit.build_rows(both, INVERSE_OBSERVED).rows] == [("unfiltered",)]


def test_a_failed_category_keeps_the_other_categorys_rows(
    tickers: dict[str, Any], instruments: dict[str, Any], inverse: dict[str, Any]
) -> None:
    payloads = {"tickers": tickers, "instruments-info": instruments, "tickers-inverse": inverse}
    assert len(bybit.build_rows(payloads, OBSERVED).rows) == 51
    linear_only = bybit.build_rows({**payloads, "tickers-inverse": None}, OBSERVED)
    assert (len(linear_only.rows), {r.contract_type for r in linear_only.rows}) == (50, {"linear"})
    inverse_only = bybit.build_rows({**payloads, "tickers": None}, OBSERVED)
    assert [(r.native_symbol, r.contract_type) for r in inverse_only.rows] == [("BTCUSD", "inverse")]
    with pytest.raises(BadPayload):
        bybit.build_rows({**payloads, "tickers": None, "tickers-inverse": None}, OBSERVED)
    with pytest.raises(EmptyPayload):  # present but empty is an error when no category is left
        bybit.build_rows({**payloads, "tickers": None, "tickers-inverse": envelope()}, OBSERVED)


@pytest.mark.parametrize(
    "bad", [envelope(), {"retCode": 0, "result": {}}, {"retCode": 0, "result": {"list": {}}}]
)
def test_an_empty_or_malformed_inverse_category_keeps_the_linear_rows(
    tickers: dict[str, Any], instruments: dict[str, Any], bad: Any
) -> None:
    payloads = {"tickers": tickers, "instruments-info": instruments, "tickers-inverse": bad}
    result = bybit.build_rows(payloads, OBSERVED)
    assert (len(result.rows), {r.contract_type for r in result.rows}) == (50, {"linear"})
    assert (result.unusable, result.bad_rows) == ({"tickers-inverse"}, 0)
    with pytest.raises((BadPayload, EmptyPayload)):  # no category left with rows: the bad one's error
        bybit.build_rows({**payloads, "tickers": None}, OBSERVED)


def test_end_to_end_through_the_simulator_without_violations() -> None:
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            bybit.SPEC,
            RateGate(bybit.SPEC.id, bybit.SPEC.limits),
            base_urls={h: sim.venue_url(bybit.SPEC.id) for h in bybit.SPEC.hosts},
            retries=0,
        )
        payloads: dict[str, Any] = {}
        for endpoint in bybit.SPEC.endpoints:
            try:
                payloads[endpoint.name] = client.fetch(endpoint)
            except HttpClientError:  # no inverse instrument list is recorded: the simulator answers 404
                payloads[endpoint.name] = None
        result = bybit.build_rows(payloads, OBSERVED)
        stats = sim.stats()["venues"]["bybit"]
    assert (stats["violations"], stats["requests"]) == (0, 4)
    assert [name for name, payload in payloads.items() if payload is None] == ["instruments-info-inverse"]
    rows = {r.native_symbol: r for r in result.rows}
    assert len(rows) == 51
    assert_row(rows["BTCUSD"], symbol="BTC/USD:BTC", contract_type="inverse", flags=("stale", "unfiltered"))
    assert_row(rows["BTCUSDT"], symbol="BTC/USDT:USDT", funding_rate=0.00002942, flags=())


def test_crossing_the_simulated_limit_is_the_403_ban_and_banned() -> None:
    sim_bybit = LIMITS["bybit"]
    small = dataclasses.replace(sim_bybit, pools=(dataclasses.replace(sim_bybit.pool("ip"), capacity=1),))
    with Simulator(latency_ms=0, limits={**LIMITS, "bybit": small}) as sim:
        client = VenueClient(
            bybit.SPEC,
            RateGate("bybit", bybit.SPEC.limits),
            base_urls={"api": sim.venue_url("bybit")},
            retries=0,
        )
        assert client.fetch(bybit.SPEC.endpoint("tickers-inverse"))["retCode"] == 0
        with pytest.raises(Banned) as raised:
            client.fetch(bybit.SPEC.endpoint("tickers"))
        assert sim.stats()["venues"]["bybit"]["violations"] == 1
    assert "HTTP 403" in str(raised.value) and "access too frequent" in str(raised.value)


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
    "symbol": ["BTCUSDT", "1000PEPEUSDT", "BTCPERP", "ACEUSDT", "BTCUSD"],
    "fundingRate": ["0.00002942", "-0.00195129", "0"],
    "nextFundingTime": ["1787875200000", "1787860800000", "", "0"],
    "fundingIntervalHour": ["8", "4", ""],
    "markPrice": ["80307.55", ""],
    "indexPrice": ["80348.99"],
    "openInterest": ["240113967", ""],
    "openInterestValue": ["3966529709.94", ""],
    "turnover24h": ["5099517077.4164"],
    "deliveryTime": ["0", ""],
    "contractType": ["LinearPerpetual", "InversePerpetual"],
    "status": ["Trading"],
    "baseCoin": ["BTC", "1000PEPE"],
    "quoteCoin": ["USDT", "USDC", "USD"],
    "settleCoin": ["USDT", "USDC", "BTC"],
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
    "openInterest": ["many"],
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
    "openInterest",
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


def rows_in(payload: Any, unusable: bool) -> int:
    """How many rows a payload can contribute (0 when absent, set aside as unusable, or not enveloped)."""
    try:
        rows = payload["result"]["list"]
    except (KeyError, IndexError, TypeError):
        return 0
    return 0 if unusable or not isinstance(rows, list) else len(rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rates=mostly(enveloped(*TICKER_KEYS), JSON),
    listing=mostly(enveloped(*LIST_KEYS), st.none(), st.none(), JSON),
    inverse=mostly(enveloped(*TICKER_KEYS), st.none(), JSON),
    inverse_listing=mostly(enveloped(*LIST_KEYS), st.none(), JSON),
)
def test_arbitrary_rows_never_break_build_rows(
    rates: Any, listing: Any, inverse: Any, inverse_listing: Any
) -> None:
    payloads = {
        "tickers": rates,
        "instruments-info": listing,
        "tickers-inverse": inverse,
        "instruments-info-inverse": inverse_listing,
    }
    try:
        result = bybit.build_rows(payloads, OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    bound = sum(
        rows_in(payloads[name], name in result.unusable) for family in bybit.FAMILIES for name in family[:2]
    )
    assert len(result.rows) + result.bad_rows <= bound  # one outcome a row
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.open_interest_usd is None or math.isfinite(row.open_interest_usd)
        assert row.contract_type != "inverse" or row.volume_24h_usd is None
        assert set(row.flags) <= set(FLAGS)


HISTORY = "funding-history.docs-example.json"


def test_history_rows_field_by_field():
    # {"symbol": "ETHPERP", "fundingRate": "0.0001", "fundingRateTimestamp": "1672041600000"} (docs example)
    parsed = bybit.parse_history(load_json("bybit", HISTORY), "ETHPERP")
    assert parsed.bad_rows == 0 and len(parsed.items) == 1
    [event] = parsed.items
    assert (event.exchange, event.native_symbol) == ("bybit", "ETHPERP")
    assert event.funding_time == datetime(2022, 12, 26, 8, tzinfo=UTC)
    assert (event.funding_rate, event.interval_hours, event.mark_price) == (0.0001, None, None)


def test_history_drops_other_symbols_counts_malformed_rows_and_reads_the_category():
    payload = copy.deepcopy(load_json("bybit", HISTORY))
    row = payload["result"]["list"][0]
    payload["result"]["list"] = [
        {**row, "symbol": "BTCPERP"},
        {**row, "fundingRate": "n/a"},
        {**row, "fundingRateTimestamp": "1672070400000", "fundingRate": "-0.00002"},
    ]
    parsed = bybit.parse_history(payload, "ETHPERP")
    assert parsed.bad_rows == 1
    assert [(e.funding_time, e.funding_rate) for e in parsed.items] == [
        (datetime(2022, 12, 26, 16, tzinfo=UTC), -0.00002)
    ]
    with pytest.raises(BadPayload):
        bybit.parse_history({"retCode": 0, "result": {}}, "ETHPERP")
    assert [bybit.history_category(s) for s in ("BTCUSD", "BTCUSDT", "ETHPERP")] == [
        "inverse",
        "linear",
        "linear",
    ]
    request = bybit.SPEC.history.request("BTCUSD", 1000, 2000)
    assert dict(request.params) == {
        "category": "inverse",
        "symbol": "BTCUSD",
        "startTime": "1000",
        "endTime": "2000",
        "limit": "200",
    }
    assert bybit.SPEC.history.paging == "backward"
