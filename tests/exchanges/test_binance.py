"""Binance USDⓈ-M adapter against the same-run recordings of 2026-07-04 15:56Z (premiumIndex, fundingInfo,
exchangeInfo). Expected values are copied by hand from those files."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, FetchError, RateLimited
from funding_finder.exchanges import binance
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import assert_row

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


def test_spec_is_the_documented_cycle() -> None:
    spec = binance.SPEC
    assert spec.id == "binance"
    assert spec.hosts == {"api": "https://fapi.binance.com", "dapi": "https://dapi.binance.com"}
    assert [(e.name, e.host, e.path, e.role, dict(e.params)) for e in spec.endpoints] == [
        ("premiumIndex", "api", "/fapi/v1/premiumIndex", Role.RATES, {}),
        ("fundingInfo", "api", "/fapi/v1/fundingInfo", Role.EXTRA, {}),
        ("exchangeInfo", "api", "/fapi/v1/exchangeInfo", Role.INSTRUMENTS, {}),
        ("dapi-premiumIndex", "dapi", "/dapi/v1/premiumIndex", Role.RATES, {}),
        ("dapi-fundingInfo", "dapi", "/dapi/v1/fundingInfo", Role.EXTRA, {}),
        ("dapi-exchangeInfo", "dapi", "/dapi/v1/exchangeInfo", Role.INSTRUMENTS, {}),
    ]
    weight, funding, dapi = spec.limits
    names = ("premiumIndex", "fundingInfo", "exchangeInfo", "fundingRate")
    dapi_names = tuple(f"dapi-{name}" for name in names)
    assert (weight.name, weight.capacity, weight.window_s, weight.scope) == (
        "REQUEST_WEIGHT",
        2400,
        60.0,
        "ip",
    )
    # fundingRate (history) weighs nothing in the 2400 pool: it is charged to the 500 / 5 min pool only.
    assert [weight.cost_of(e) for e in names + dapi_names] == [10, 0, 1, 0, 0, 0, 0, 0]
    assert (funding.name, funding.capacity, funding.window_s) == ("fundingInfo+fundingRate", 500, 300.0)
    assert [funding.cost_of(e) for e in names + dapi_names] == [0, 1, 0, 1, 0, 0, 0, 0]
    assert (dapi.name, dapi.capacity, dapi.window_s, dapi.scope) == ("dapi REQUEST_WEIGHT", 2400, 60.0, "ip")
    assert [dapi.cost_of(e) for e in names + dapi_names] == [0, 0, 0, 0, 10, 1, 1, 1]
    assert spec.usage_headers == {"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"}


def test_every_cycle_endpoint_is_charged_to_its_own_hosts_weight_pool_only() -> None:
    weight, _, dapi = binance.SPEC.limits
    for endpoint in binance.SPEC.endpoints:
        other = weight if endpoint.host == "dapi" else dapi
        assert other.cost_of(endpoint.name) == 0, endpoint.name
    # The notes' 11 weight of a fapi cycle; dapi 10 + 1 + 1 (fundingInfo charged 1, the cautious reading).
    assert sum(weight.cost_of(e.name) for e in binance.SPEC.endpoints) == 11
    assert sum(dapi.cost_of(e.name) for e in binance.SPEC.endpoints) == 12


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


def test_rate_beyond_the_symbols_recorded_cap_is_flagged_implausible(
    recorded: dict[str, Any], rows: dict[str, FundingRate]
) -> None:
    # Recorded GUAUSDT sits exactly at its own cap: lastFundingRate "0.00005000", fundingInfo
    # adjustedFundingRateCap "0.00005000" / adjustedFundingRateFloor "-0.00005000" (4 h).
    assert_row(rows["GUAUSDT"], funding_rate=0.00005, interval_hours=4, flags=())
    # Recorded BTCUSDT: lastFundingRate "0.00009398", cap "0.00300" / floor "-0.00300" (8 h).
    assert rows["BTCUSDT"].flags == ()

    def flags_at(symbol: str, rate: str) -> tuple[str, ...]:
        premium = [premium_row(recorded, symbol) | {"lastFundingRate": rate}]
        (row,) = binance.build_rows({**recorded, "premiumIndex": premium}, OBSERVED).rows
        return row.flags

    assert flags_at("BTCUSDT", "0.00300") == flags_at("BTCUSDT", "-0.00300") == ()
    assert flags_at("BTCUSDT", "0.00300001") == ("implausible_rate",)
    assert flags_at("BTCUSDT", "-0.00300001") == ("implausible_rate",)
    assert flags_at("GUAUSDT", "0.00005001") == ("implausible_rate",)


def test_without_funding_info_no_cap_is_known(recorded: dict[str, Any]) -> None:
    premium = [premium_row(recorded, "BTCUSDT") | {"lastFundingRate": "0.004"}]
    (row,) = binance.build_rows({**recorded, "premiumIndex": premium, "fundingInfo": None}, OBSERVED).rows
    assert row.flags == ("interval_unknown",)  # beyond the recorded cap, but no fundingInfo to say so


def test_an_unreadable_cap_costs_neither_the_row_nor_its_interval(recorded: dict[str, Any]) -> None:
    info = copy.deepcopy(recorded["fundingInfo"])
    btc = next(r for r in info if r["symbol"] == "BTCUSDT")
    btc["adjustedFundingRateCap"] = "none"  # the floor "-0.00300" still bounds it
    premium = [premium_row(recorded, "BTCUSDT") | {"lastFundingRate": "0.0031"}]
    result = binance.build_rows({**recorded, "premiumIndex": premium, "fundingInfo": info}, OBSERVED)
    assert result.bad_rows == 0
    assert_row(result.rows[0], interval_hours=8, flags=("implausible_rate",))
    btc["adjustedFundingRateFloor"] = None
    (row,) = binance.build_rows({**recorded, "premiumIndex": premium, "fundingInfo": info}, OBSERVED).rows
    assert_row(row, interval_hours=8, flags=())


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


# -- COIN-M (dapi) -------------------------------------------------------------------------------------

DAPI_LIST = "dapi-v1-exchangeInfo__cryptofeed-20210722.json"
DOCS_DAPI_PREMIUM_INDEX: list[dict[str, Any]] = [
    {
        "symbol": "BTCUSD_PERP",
        "pair": "BTCUSD",
        "markPrice": "11029.69574559",
        "indexPrice": "10979.14437500",
        "estimatedSettlePrice": "10981.74168236",
        "lastFundingRate": "0.00071003",
        "interestRate": "0.00010000",
        "nextFundingTime": 1596096000000,
        "time": 1596094042000,
    },
    {
        "symbol": "BTCUSD_200925",
        "pair": "BTCUSD",
        "markPrice": "12077.01343750",
        "indexPrice": "10979.10312500",
        "estimatedSettlePrice": "10981.74168236",
        "lastFundingRate": "",
        "interestRate": "",
        "nextFundingTime": 0,
        "time": 1596094042000,
    },
]
"""DOCS-DERIVED, not a recording: no dapi premiumIndex body was ever recorded. The two rows of Binance's
documented response example for `GET /dapi/v1/premiumIndex` (a perpetual, and a delivery contract with
`lastFundingRate: ""` and `nextFundingTime: 0` as the handbook says); illustrative values, 2020-07."""
DAPI_OBSERVED = datetime(2020, 7, 30, 7, 27, 22, tzinfo=UTC)  # the example rows' `time` 1596094042000
DAPI_SETTLEMENT = datetime(2020, 7, 30, 8, 0, tzinfo=UTC)  # nextFundingTime 1596096000000


@pytest.fixture(scope="module")
def dapi_list() -> dict[str, Any]:
    return load_json("binance", DAPI_LIST)


def dapi_payloads(dapi_list: dict[str, Any], **changes: Any) -> dict[str, Any]:
    payloads = {
        "dapi-premiumIndex": copy.deepcopy(DOCS_DAPI_PREMIUM_INDEX),
        "dapi-fundingInfo": [],  # answered, no adjusted symbol: every perpetual is on the 8 h default
        "dapi-exchangeInfo": dapi_list,
    }
    return payloads | changes


def test_dapi_exchange_info_2021_keeps_the_18_trading_perpetuals(dapi_list: dict[str, Any]) -> None:
    family = binance.FAMILIES[1]
    parsed = binance.parse_exchange_info(dapi_list, family)
    assert parsed.bad_rows == 0
    kept = {i.symbol: i for i in parsed.items}
    assert len(dapi_list["symbols"]) == 36 and len(kept) == 18  # 9 CURRENT_QUARTER + 9 NEXT_QUARTER dropped
    assert all(symbol.endswith("_PERP") for symbol in kept)
    btc, eth, egld = kept["BTCUSD_PERP"], kept["ETHUSD_PERP"], kept["EGLDUSD_PERP"]
    assert (btc.base, btc.quote, btc.settle, btc.asset_class) == ("BTC", "USD", "BTC", "crypto")
    assert (eth.base, eth.quote, eth.settle) == ("ETH", "USD", "ETH")
    assert (egld.base, egld.quote, egld.settle) == ("EGLD", "USD", "EGLD")


def test_dapi_docs_example_row_is_an_inverse_btc_usd_row(dapi_list: dict[str, Any]) -> None:
    result = binance.build_rows(dapi_payloads(dapi_list), DAPI_OBSERVED)
    assert result.bad_rows == 0
    (row,) = result.rows  # the delivery row (nextFundingTime 0) is dropped on purpose
    assert_row(
        row,
        exchange="binance",
        symbol="BTC/USD:BTC",
        native_symbol="BTCUSD_PERP",
        base="BTC",
        multiplier=1,
        quote="USD",
        settle="BTC",
        contract_type="inverse",
        funding_rate=0.00071003,
        interval_hours=8,
        next_funding_time=DAPI_SETTLEMENT,
        predicted_rate=None,
        mark_price=11029.69574559,
        index_price=10979.144375,
        open_interest_usd=None,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=0.00071003 * 1095,
        observed_at=DAPI_OBSERVED,
        flags=(),
    )


def test_dapi_interval_comes_from_dapi_funding_info(dapi_list: dict[str, Any]) -> None:
    # TEST-MADE fundingInfo row (the documented row shape) giving BTCUSD_PERP a 4 h interval.
    adjusted = [{"symbol": "BTCUSD_PERP", "fundingIntervalHours": 4, "disclaimer": False}]
    (row,) = binance.build_rows(
        dapi_payloads(dapi_list, **{"dapi-fundingInfo": adjusted}), DAPI_OBSERVED
    ).rows
    assert (row.interval_hours, row.apr, row.flags) == (4, pytest.approx(0.00071003 * 2190), ())
    (row,) = binance.build_rows(dapi_payloads(dapi_list, **{"dapi-fundingInfo": None}), DAPI_OBSERVED).rows
    assert (row.interval_hours, row.apr, row.flags) == (None, None, ("interval_unknown",))
    # The fapi fundingInfo never sets a dapi interval.
    fapi_info = [{"symbol": "BTCUSD_PERP", "fundingIntervalHours": 1}]
    payloads = dapi_payloads(dapi_list, fundingInfo=fapi_info)
    assert binance.build_rows(payloads, DAPI_OBSERVED).rows[0].interval_hours == 8


def test_dapi_without_its_list_is_unfiltered_and_read_from_the_symbol(dapi_list: dict[str, Any]) -> None:
    (row,) = binance.build_rows(dapi_payloads(dapi_list, **{"dapi-exchangeInfo": None}), DAPI_OBSERVED).rows
    assert_row(
        row,
        symbol="BTC/USD:BTC",
        base="BTC",
        quote="USD",
        settle="BTC",
        contract_type="inverse",
        flags=("unfiltered",),
    )
    # A dated COIN-M symbol with a settlement time is still dropped by its name without the list.
    dated = copy.deepcopy(DOCS_DAPI_PREMIUM_INDEX[0]) | {"symbol": "BTCUSD_200925"}
    payloads = dapi_payloads(dapi_list, **{"dapi-premiumIndex": [dated], "dapi-exchangeInfo": None})
    assert (binance.build_rows(payloads, DAPI_OBSERVED).rows, 0) == ([], 0)


def test_dapi_symbols_missing_from_the_dapi_list_are_dropped(dapi_list: dict[str, Any]) -> None:
    delisted = copy.deepcopy(DOCS_DAPI_PREMIUM_INDEX[0]) | {"symbol": "SOLUSD_PERP"}  # not listed in 2021
    payloads = dapi_payloads(dapi_list, **{"dapi-premiumIndex": [delisted, DOCS_DAPI_PREMIUM_INDEX[0]]})
    assert [r.native_symbol for r in binance.build_rows(payloads, DAPI_OBSERVED).rows] == ["BTCUSD_PERP"]


def test_a_failed_family_keeps_the_other_familys_rows(
    recorded: dict[str, Any], dapi_list: dict[str, Any]
) -> None:
    both = {**recorded, **dapi_payloads(dapi_list)}
    rows = {r.native_symbol: r for r in binance.build_rows(both, OBSERVED).rows}
    assert len(rows) == 692 and rows["BTCUSD_PERP"].contract_type == "inverse"
    without_dapi = binance.build_rows({**both, "dapi-premiumIndex": None}, OBSERVED)
    assert len(without_dapi.rows) == 691 and without_dapi.bad_rows == 0
    assert {r.contract_type for r in without_dapi.rows} == {"linear"}
    without_fapi = binance.build_rows({**both, "premiumIndex": None}, OBSERVED)
    assert [r.native_symbol for r in without_fapi.rows] == ["BTCUSD_PERP"]
    with pytest.raises(BadPayload):  # no family answered: nothing to build from
        binance.build_rows({**both, "premiumIndex": None, "dapi-premiumIndex": None}, OBSERVED)
    with pytest.raises(EmptyPayload):  # a present but empty family is an error when it is the only one
        binance.build_rows({**both, "premiumIndex": None, "dapi-premiumIndex": []}, OBSERVED)


@pytest.mark.parametrize("bad", [[], {"code": -1121}, "x"])
def test_an_empty_or_malformed_coin_m_family_keeps_the_usdm_rows(
    recorded: dict[str, Any], dapi_list: dict[str, Any], bad: Any
) -> None:
    result = binance.build_rows(
        {**recorded, **dapi_payloads(dapi_list, **{"dapi-premiumIndex": bad})}, OBSERVED
    )
    assert len(result.rows) == 691 and {r.contract_type for r in result.rows} == {"linear"}
    assert (result.unusable, result.bad_rows) == ({"dapi-premiumIndex"}, 0)
    with pytest.raises((BadPayload, EmptyPayload)):  # no family left with rows: the bad one's error
        binance.build_rows(
            {**dapi_payloads(dapi_list, **{"dapi-premiumIndex": bad}), "premiumIndex": []}, OBSERVED
        )


def test_a_wrong_shaped_dapi_list_costs_only_the_dapi_filter(
    recorded: dict[str, Any], dapi_list: dict[str, Any]
) -> None:
    both = {**recorded, **dapi_payloads(dapi_list, **{"dapi-exchangeInfo": {"serverTime": 1}})}
    result = binance.build_rows(both, OBSERVED)
    assert result.unusable == {"dapi-exchangeInfo"}
    flags = {r.native_symbol: r.flags for r in result.rows}
    assert flags["BTCUSD_PERP"] == ("stale", "unfiltered") and flags["BTCUSDT"] == ()


# -- through the simulator -------------------------------------------------------------------------------


def fetch_all(client: VenueClient) -> tuple[dict[str, Any], set[str]]:
    """Every endpoint's payload, None for a call that failed (as the collector passes it)."""
    payloads: dict[str, Any] = {}
    failed = set()
    for endpoint in binance.SPEC.endpoints:
        try:
            payloads[endpoint.name] = client.fetch(endpoint)
        except FetchError:
            payloads[endpoint.name] = None
            failed.add(endpoint.name)
    return payloads, failed


def test_end_to_end_through_the_simulator_without_violations() -> None:
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            binance.SPEC,
            RateGate(binance.SPEC.id, binance.SPEC.limits),
            base_urls={h: sim.venue_url(binance.SPEC.id) for h in binance.SPEC.hosts},
            retries=0,
        )
        payloads, failed = fetch_all(client)
        result = binance.build_rows(payloads, OBSERVED)
        stats = sim.stats()["venues"]["binance"]
    assert stats["violations"] == 0 and stats["requests"] == 6
    assert failed == {"dapi-premiumIndex", "dapi-fundingInfo"}  # no recording: the simulator answers 404
    assert payloads["dapi-exchangeInfo"] == load_json("binance", DAPI_LIST)
    rows = {r.native_symbol: r for r in result.rows}
    assert len(rows) == 691
    assert_row(rows["BTCUSDT"], symbol="BTC/USDT:USDT", funding_rate=0.00009398, interval_hours=8)


def test_crossing_the_simulated_dapi_weight_is_the_recorded_429_and_rate_limited() -> None:
    sim_binance = LIMITS["binance"]
    small = dataclasses.replace(sim_binance.pool("dapi-weight"), capacity=1)
    pools = tuple(small if p.name == "dapi-weight" else p for p in sim_binance.pools)
    limits = {**LIMITS, "binance": dataclasses.replace(sim_binance, pools=pools)}
    with Simulator(latency_ms=0, limits=limits) as sim:
        client = VenueClient(
            binance.SPEC,
            RateGate(binance.SPEC.id, binance.SPEC.limits),
            base_urls={h: sim.venue_url("binance") for h in binance.SPEC.hosts},
            retries=0,
        )
        dapi_list = binance.SPEC.endpoint("dapi-exchangeInfo")
        assert client.fetch(dapi_list)["symbols"]
        with pytest.raises(RateLimited) as raised:
            client.fetch(dapi_list)
        assert sim.stats()["venues"]["binance"]["violations"] == 1
    assert "-1003" in str(raised.value) and "current limit is 1 requests per minute" in str(raised.value)


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
    "symbol": ["BTCUSDT", "1000PEPEUSDT", "BTCU", "BTCUSD_PERP"],
    "lastFundingRate": ["0.00009398", "-0.00200069", "0.00000000", 0.0001],
    "nextFundingTime": [1783180800000, "1783180800000"],
    "markPrice": ["62909.90000000", None],
    "indexPrice": ["62928.61695652", None],
    "fundingIntervalHours": [1, 4, 8, "4"],
    "status": ["TRADING"],
    "contractStatus": ["TRADING"],
    "contractType": ["PERPETUAL", "TRADIFI_PERPETUAL"],
    "baseAsset": ["BTC", "1000PEPE"],
    "quoteAsset": ["USDT", "U", "USD"],
    "marginAsset": ["USDT", "BTC"],
    "underlyingType": ["COIN", "EQUITY", "PREMARKET", "INDEX"],
}
"""Recorded-looking values, drawn far more often than the traps and arbitrary JSON."""
TRAPS: dict[str, list[Any]] = {
    "symbol": ["BTCUSDT_260925", "BTCUSD_260925", "USD_PERP", "USDT", ""],
    "lastFundingRate": ["", "1e400", "nan", True],
    "nextFundingTime": [0, 10**17, -(10**17), 2**70, "1.5"],
    "markPrice": ["", "abc", "inf"],
    "indexPrice": [""],
    "fundingIntervalHours": [0, -8, ""],
    "status": ["SETTLING", "PENDING_TRADING"],
    "contractStatus": ["DELIVERING", "SETTLING"],
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


def exchange_info_of(status_field: str) -> st.SearchStrategy[Any]:
    keys = (
        "symbol",
        status_field,
        "contractType",
        "baseAsset",
        "quoteAsset",
        "marginAsset",
        "underlyingType",
    )
    return mostly(st.fixed_dictionaries({"symbols": rows_of(*keys)}), st.none(), st.none(), JSON)


PREMIUM_KEYS = ("symbol", "lastFundingRate", "nextFundingTime", "markPrice", "indexPrice")


def rows_in(payload: Any, unusable: bool, key: str | None = None) -> int:
    """How many rows a payload can contribute (0 when absent, set aside as unusable, or not a row list)."""
    try:
        rows = payload if key is None else payload[key]
    except (KeyError, IndexError, TypeError):
        return 0
    return 0 if unusable or not isinstance(rows, list) else len(rows)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    premium=mostly(rows_of(*PREMIUM_KEYS), JSON),
    info=mostly(rows_of("symbol", "fundingIntervalHours"), st.none(), JSON),
    exchange_info=exchange_info_of("status"),
    dapi_premium=mostly(rows_of(*PREMIUM_KEYS), st.none(), JSON),
    dapi_info=mostly(rows_of("symbol", "fundingIntervalHours"), st.none(), JSON),
    dapi_exchange_info=exchange_info_of("contractStatus"),
)
def test_arbitrary_rows_never_break_build_rows(
    premium: Any, info: Any, exchange_info: Any, dapi_premium: Any, dapi_info: Any, dapi_exchange_info: Any
) -> None:
    payloads = {
        "premiumIndex": premium,
        "fundingInfo": info,
        "exchangeInfo": exchange_info,
        "dapi-premiumIndex": dapi_premium,
        "dapi-fundingInfo": dapi_info,
        "dapi-exchangeInfo": dapi_exchange_info,
    }
    try:
        result = binance.build_rows(payloads, OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    assert result.bad_rows >= 0
    assert result.unusable <= set(payloads)
    assert not {"premiumIndex", "dapi-premiumIndex"} <= result.unusable  # a family with rows is left
    bound = sum(
        rows_in(payload, name in result.unusable, "symbols" if name.endswith("exchangeInfo") else None)
        for name, payload in payloads.items()
    )
    assert len(result.rows) + result.bad_rows <= bound  # one outcome a row
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.next_funding_time is not None and row.next_funding_time.tzinfo is not None
        assert row.interval_hours is None or row.interval_hours > 0
        family = dapi_premium if row.contract_type == "inverse" else premium  # each row from its own family
        assert any(isinstance(r, dict) and r.get("symbol") == row.native_symbol for r in family)
        assert set(row.flags) <= set(FLAGS)


HISTORY_BTC = "fapi-v1-fundingRate-BTCUSDT-limit20__noahark-20260704T1556Z.json"


def test_history_rows_field_by_field():
    parsed = binance.parse_history(load_json("binance", HISTORY_BTC), "BTCUSDT")
    assert parsed.bad_rows == 0 and len(parsed.items) == 20
    first, second, last = parsed.items[0], parsed.items[1], parsed.items[-1]
    # {"fundingTime": 1782604800000, "fundingRate": "0.00004258", "markPrice": "60000.40000000"}
    assert (first.exchange, first.native_symbol) == ("binance", "BTCUSDT")
    assert first.funding_time == datetime(2026, 6, 28, 0, tzinfo=UTC)
    assert (first.funding_rate, first.mark_price) == (0.00004258, 60000.4)
    # {"fundingTime": 1782633600013, "fundingRate": "0.00001355"}: 13 ms of jitter rounded off
    assert second.funding_time == datetime(2026, 6, 28, 8, tzinfo=UTC) and second.funding_rate == 0.00001355
    # {"fundingTime": 1783152000000, "fundingRate": "0.00010000", "markPrice": "62549.30000000"}
    assert (last.funding_time, last.funding_rate, last.mark_price) == (
        datetime(2026, 7, 4, 8, tzinfo=UTC),
        0.0001,
        62549.3,
    )


def test_history_drops_other_symbols_and_counts_malformed_rows():
    rows = copy.deepcopy(load_json("binance", HISTORY_BTC))[:4]
    rows[0]["symbol"] = "ETHUSDT"
    rows[1]["fundingRate"] = ""
    rows[2]["markPrice"] = ""
    del rows[3]["fundingTime"]
    parsed = binance.parse_history(rows, "BTCUSDT")
    assert parsed.bad_rows == 2
    assert [(e.funding_rate, e.mark_price) for e in parsed.items] == [(0.0000443, None)]
    with pytest.raises(BadPayload):
        binance.parse_history({"code": -1121, "msg": "Invalid symbol."}, "BTCUSDT")
