"""Aster against the 2026-09-19 live capture fragments (premiumIndex 6 rows, fundingInfo 4 rows, exchangeInfo
4 symbols with 7 keys each), the 2025 single-symbol v3 body and the v3 fundingInfo docs example.
Expected values are copied by hand from those files."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
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
from funding_finder.exchanges import aster
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from rows import assert_row, by_native

PREMIUM = "fapi-v1-premiumIndex.fragment-6rows__rs-fixture-20260919.json"
FUNDING_INFO = "fapi-v1-fundingInfo.fragment-4rows__rs-fixture-20260919.json"
EXCHANGE_INFO = "fapi-v1-exchangeInfo.fields-trimmed-4symbols__rs-fixture-20260919.json"
OBSERVED = datetime(2026, 9, 19, 13, 17, 49, tzinfo=UTC)
"""Capture of the premiumIndex rows: their `time` 1789823869000."""
SETTLEMENT = datetime(2026, 9, 19, 16, 0, tzinfo=UTC)  # nextFundingTime 1789833600000 of every row


@pytest.fixture
def recorded() -> dict[str, Any]:
    return {
        "premiumIndex": load_json("aster", PREMIUM),
        "fundingInfo": load_json("aster", FUNDING_INFO),
        "exchangeInfo": load_json("aster", EXCHANGE_INFO),
    }


def premium_row(recorded: dict[str, Any], of: str, **changes: Any) -> dict[str, Any]:
    """A copy of the recorded premiumIndex row of `of`, with `changes` applied."""
    return copy.deepcopy(next(r for r in recorded["premiumIndex"] if r["symbol"] == of)) | changes


def test_spec_is_the_three_v1_calls_under_the_weight_limit() -> None:
    spec = aster.SPEC
    assert (spec.id, spec.hosts) == ("aster", {"api": "https://fapi.asterdex.com"})
    assert [(e.name, e.path, e.method, e.role, dict(e.params)) for e in spec.endpoints] == [
        ("premiumIndex", "/fapi/v1/premiumIndex", "GET", Role.RATES, {}),
        ("fundingInfo", "/fapi/v1/fundingInfo", "GET", Role.EXTRA, {}),
        ("exchangeInfo", "/fapi/v1/exchangeInfo", "GET", Role.INSTRUMENTS, {}),
    ]
    (weight,) = spec.limits
    assert (weight.name, weight.capacity, weight.window_s, weight.scope) == (
        "REQUEST_WEIGHT",
        2400,
        60.0,
        "ip",
    )
    assert [weight.cost_of(e.name) for e in spec.endpoints] == [1, 1, 1]
    assert spec.usage_headers == {"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"}
    assert spec.check_envelope is aster.check_envelope


def test_listed_4h_row_field_by_field(recorded: dict[str, Any]) -> None:
    assert_row(
        by_native(aster.build_rows(recorded, OBSERVED))["TRUTHUSDT"],
        exchange="aster",
        symbol="TRUTH/USDT:USDT",
        native_symbol="TRUTHUSDT",
        base="TRUTH",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.00016927,
        interval_hours=4,
        next_funding_time=SETTLEMENT,
        predicted_rate=None,
        mark_price=0.01327107,
        index_price=0.01325857,
        open_interest_usd=None,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=0.00016927 * 2190,
        observed_at=OBSERVED,
        flags=(),
    )


def test_8h_rows_missing_from_the_trimmed_list_are_kept_unlisted(recorded: dict[str, Any]) -> None:
    rows = by_native(aster.build_rows(recorded, OBSERVED))
    assert_row(
        rows["BTCUSDT"],
        symbol="BTC/USDT:USDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0001,
        interval_hours=8,
        next_funding_time=SETTLEMENT,
        mark_price=81267.96337318,
        index_price=81294.30391304,
        asset_class="crypto",
        apr=0.0001 * 1095,
        flags=("unlisted",),
    )
    assert_row(
        rows["MKRUSDT"],  # absent from the 602-symbol exchangeInfo per the source, yet priced
        symbol="MKR/USDT:USDT",
        base="MKR",
        funding_rate=0.0001,
        interval_hours=8,
        mark_price=1301.90499849,
        index_price=1301.90499849,
        flags=("unlisted",),
    )


def test_symbols_absent_from_funding_info_have_no_default_interval(recorded: dict[str, Any]) -> None:
    rows = by_native(aster.build_rows(recorded, OBSERVED))
    assert_row(
        rows["GNSUSD"],
        symbol="GNS/USD:USD",
        base="GNS",
        quote="USD",
        settle="USD",
        contract_type="linear",
        funding_rate=0.0,
        interval_hours=None,
        apr=None,
        next_funding_time=SETTLEMENT,
        mark_price=0.42702357,
        index_price=0.42702357,
        flags=("interval_unknown", "unlisted"),
    )
    assert_row(rows["KORUUSDT"], funding_rate=0.0, interval_hours=None, mark_price=19.70026009)
    assert_row(rows["APXUSDT"], funding_rate=0.0001, interval_hours=None, index_price=0.61243)
    for symbol in ("GNSUSD", "KORUUSDT", "APXUSDT"):
        assert symbol not in {r["symbol"] for r in recorded["fundingInfo"]}


def test_every_recorded_rate_row_is_kept(recorded: dict[str, Any]) -> None:
    result = aster.build_rows(recorded, OBSERVED)
    assert (len(result.rows), result.bad_rows, result.unusable) == (6, 0, set())
    assert [r.native_symbol for r in result.rows] == [r["symbol"] for r in recorded["premiumIndex"]]
    assert [r.interval_hours for r in result.rows] == [None, 8, 4, None, None, 8]
    assert [r.flags for r in result.rows].count(()) == 1  # only TRUTHUSDT is in the trimmed list


def test_1h_interval_from_funding_info(recorded: dict[str, Any]) -> None:
    argus = premium_row(recorded, "BTCUSDT", symbol="ARGUSUSDT", lastFundingRate="-0.00050000")
    (row,) = aster.build_rows({**recorded, "premiumIndex": [argus]}, OBSERVED).rows
    assert_row(row, symbol="ARGUS/USDT:USDT", interval_hours=1, apr=-0.0005 * 8760, flags=("unlisted",))
    assert dict(aster.parse_funding_info(recorded["fundingInfo"]).items) == {
        "ARGUSUSDT": 1,
        "TRUTHUSDT": 4,
        "BTCUSDT": 8,
        "MKRUSDT": 8,
    }


def test_status_and_type_filters_of_the_listed_symbols(recorded: dict[str, Any]) -> None:
    extra = [
        premium_row(recorded, "BTCUSDT", symbol="TONUSDT"),  # SETTLING
        premium_row(recorded, "BTCUSDT", symbol="MBLUSDT"),  # PENDING_TRADING, contractType ""
        premium_row(recorded, "BTCUSDT", symbol="XAUUSD1"),  # TRADING, quoted in USD1
    ]
    payloads = {**recorded, "premiumIndex": recorded["premiumIndex"] + extra}
    result = aster.build_rows(payloads, OBSERVED)
    rows = by_native(result)
    assert (len(result.rows), result.bad_rows) == (7, 0)  # TONUSDT and MBLUSDT dropped on purpose
    assert "TONUSDT" not in rows and "MBLUSDT" not in rows
    assert_row(
        rows["XAUUSD1"],
        symbol="XAU/USD1:USD1",
        base="XAU",
        quote="USD1",
        settle="USD1",
        interval_hours=None,
        flags=("interval_unknown",),
    )


def test_missing_status_is_unknown_and_kept(recorded: dict[str, Any]) -> None:
    info = copy.deepcopy(recorded["exchangeInfo"])
    del info["symbols"][2]["status"]  # TONUSDT, SETTLING in the recording
    ton = premium_row(recorded, "BTCUSDT", symbol="TONUSDT")
    (row,) = aster.build_rows({**recorded, "premiumIndex": [ton], "exchangeInfo": info}, OBSERVED).rows
    assert (row.symbol, row.flags) == ("TON/USDT:USDT", ("interval_unknown",))  # listed, not in fundingInfo


def test_underlying_type_sets_the_asset_class(recorded: dict[str, Any]) -> None:
    info = copy.deepcopy(recorded["exchangeInfo"])
    info["symbols"][1]["underlyingType"] = "COMMODITY"  # XAUUSD1; the trimmed recording lacks the key
    info["symbols"][0]["underlyingType"] = "COIN"
    xau = premium_row(recorded, "BTCUSDT", symbol="XAUUSD1")
    got = by_native(
        aster.build_rows(
            {**recorded, "premiumIndex": [xau, *recorded["premiumIndex"]], "exchangeInfo": info}, OBSERVED
        )
    )
    assert (got["XAUUSD1"].asset_class, got["TRUTHUSDT"].asset_class) == ("commodity", "crypto")


def test_rate_beyond_the_symbols_recorded_cap_is_flagged_implausible(recorded: dict[str, Any]) -> None:
    # Recorded TRUTHUSDT (listed): lastFundingRate "0.00016927", fundingInfo fundingFeeCap 0.02 /
    # fundingFeeFloor -0.02 (4 h, far below the 4 %/h sanity bound: only the recorded cap can flag it).
    assert by_native(aster.build_rows(recorded, OBSERVED))["TRUTHUSDT"].flags == ()

    def truth_flags(rate: str) -> tuple[str, ...]:
        premium = [premium_row(recorded, "TRUTHUSDT", lastFundingRate=rate)]
        (row,) = aster.build_rows({**recorded, "premiumIndex": premium}, OBSERVED).rows
        return row.flags

    assert truth_flags("0.02") == truth_flags("-0.02") == ()  # exactly at the cap and at the floor
    assert truth_flags("0.0200001") == ("implausible_rate",)
    assert truth_flags("-0.0200001") == ("implausible_rate",)


def test_an_unreadable_cap_costs_neither_the_row_nor_its_interval(recorded: dict[str, Any]) -> None:
    truth_info = next(r for r in recorded["fundingInfo"] if r["symbol"] == "TRUTHUSDT")
    truth_info["fundingFeeCap"] = "n/a"  # the floor -0.02 still bounds it
    premium = [premium_row(recorded, "TRUTHUSDT", lastFundingRate="0.021")]
    result = aster.build_rows({**recorded, "premiumIndex": premium}, OBSERVED)
    assert result.bad_rows == 0
    assert_row(result.rows[0], interval_hours=4, flags=("implausible_rate",))
    truth_info["fundingFeeFloor"] = None  # no readable bound left: no cap applied
    (row,) = aster.build_rows({**recorded, "premiumIndex": premium}, OBSERVED).rows
    assert_row(row, interval_hours=4, flags=())


def test_failed_funding_info_leaves_every_interval_unknown(recorded: dict[str, Any]) -> None:
    for bad, unusable in ((None, set()), ({"code": 0}, {"fundingInfo"}), ([], {"fundingInfo"})):
        result = aster.build_rows({**recorded, "fundingInfo": bad}, OBSERVED)
        assert result.unusable == unusable
        assert len(result.rows) == 6
        assert all(r.interval_hours is None and "interval_unknown" in r.flags for r in result.rows)


def test_failed_exchange_info_flags_rows_unfiltered(recorded: dict[str, Any]) -> None:
    for bad, unusable in (
        (None, set()),
        ({"symbols": "x"}, {"exchangeInfo"}),
        ({"symbols": []}, {"exchangeInfo"}),
    ):
        result = aster.build_rows({**recorded, "exchangeInfo": bad}, OBSERVED)
        rows = by_native(result)
        assert result.unusable == unusable
        assert len(rows) == 6
        assert_row(rows["TRUTHUSDT"], symbol="TRUTH/USDT:USDT", interval_hours=4, flags=("unfiltered",))
        assert rows["GNSUSD"].flags == ("interval_unknown", "unfiltered")


def test_malformed_rows_cost_only_themselves(recorded: dict[str, Any]) -> None:
    rates = [
        premium_row(recorded, "BTCUSDT", lastFundingRate=""),
        premium_row(recorded, "TRUTHUSDT", nextFundingTime="soon"),
        premium_row(recorded, "KORUUSDT", symbol="KORU"),  # no known quote, not in exchangeInfo
        premium_row(recorded, "MKRUSDT"),
    ]
    info = copy.deepcopy(recorded["fundingInfo"])
    info[3]["fundingIntervalHours"] = "eight"  # MKRUSDT
    result = aster.build_rows({**recorded, "premiumIndex": rates, "fundingInfo": info}, OBSERVED)
    assert [(r.native_symbol, r.interval_hours) for r in result.rows] == [("MKRUSDT", None)]
    assert result.bad_rows == 4


def test_zero_next_funding_time_is_unknown_not_dropped(recorded: dict[str, Any]) -> None:
    row = premium_row(recorded, "TRUTHUSDT", nextFundingTime=0)
    (got,) = aster.build_rows({**recorded, "premiumIndex": [row]}, OBSERVED).rows
    assert (got.next_funding_time, got.flags) == (None, ())


def test_settled_rows_are_kept_and_flagged_stale(recorded: dict[str, Any]) -> None:
    result = aster.build_rows(recorded, SETTLEMENT)
    assert len(result.rows) == 6 and all("stale" in r.flags for r in result.rows)


def test_wrong_shapes() -> None:
    single = load_json("aster", "fapi-v3-premiumIndex-BTCUSDT.json")  # one symbol: an object
    for bad in (single, {"code": -1003, "msg": "Too many requests"}, None, "x"):
        with pytest.raises(BadPayload):
            aster.build_rows({"premiumIndex": bad}, OBSERVED)
    with pytest.raises(EmptyPayload):
        aster.build_rows({"premiumIndex": []}, OBSERVED)


def test_docs_funding_info_example_parses_as_numbers() -> None:
    docs = load_json("aster", "fapi-v3-fundingInfo.json")  # a docs example: field types only
    assert dict(aster.parse_funding_info(docs).items) == {"INJUSDT": 8, "ZORAUSDT": 4}


def test_error_objects_inside_http_200() -> None:
    with pytest.raises(RateLimited):
        aster.check_envelope("aster", "premiumIndex", {"code": -1003, "msg": "Too many requests"})
    with pytest.raises(ExchangeError) as raised:
        aster.check_envelope("aster", "premiumIndex", {"code": -1121, "msg": "Invalid symbol."})
    assert not isinstance(raised.value, RateLimited) and "-1121" in str(raised.value)
    assert aster.check_envelope("aster", "premiumIndex", load_json("aster", PREMIUM)) is None
    assert aster.check_envelope("aster", "exchangeInfo", load_json("aster", EXCHANGE_INFO)) is None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, b'{"code":-1121,"msg":"Invalid symbol."}', HttpClientError),
        (418, b'{"code":-1003,"msg":"Way too many requests; IP banned until 1789830000000."}', Banned),
        (
            429,
            b'{"code":-1003,"msg":"Too many requests; please use the websocket for live updates."}',
            RateLimited,
        ),
    ],
)
def test_http_4xx_error_objects_become_typed_errors(status: int, body: bytes, error: type) -> None:
    from fakes import ScriptedServer

    with ScriptedServer([(status, {"Content-Type": "application/json"}, body, 0.0)]) as server:
        spec = aster.SPEC
        client = VenueClient(spec, RateGate(spec.id, spec.limits), base_urls={"api": server.url}, retries=0)
        with pytest.raises(error) as raised:
            client.fetch(spec.endpoint("fundingInfo"))
    assert f"HTTP {status}" in str(raised.value) and "-1" in str(raised.value)


# -- through the simulator -----------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_for(sim: Any, **kwargs: Any) -> VenueClient:
    spec = aster.SPEC
    base_urls = {h: sim.venue_url(spec.id) for h in spec.hosts}
    return VenueClient(spec, RateGate(spec.id, spec.limits), base_urls=base_urls, **kwargs)


def test_one_cycle_through_the_simulator_stays_within_limits() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0) as sim:
        client = client_for(sim)
        payloads = {e.name: client.fetch(e) for e in aster.SPEC.endpoints}
        result = aster.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"]["aster"]["violations"] == 0
        assert client.gate.used("REQUEST_WEIGHT") == 3
    assert by_native(result)["TRUTHUSDT"].interval_hours == 4
    assert by_native(result)["BTCUSDT"].flags == ("unlisted",)


def test_crossing_the_simulated_weight_limit_is_a_429_the_client_reports_as_rate_limited() -> None:
    import dataclasses

    from funding_finder.simulator import Simulator
    from funding_finder.simulator.limits import LIMITS

    limits = LIMITS["aster"]
    small = {
        **LIMITS,
        "aster": dataclasses.replace(limits, pools=(dataclasses.replace(limits.pools[0], capacity=3),)),
    }
    with Simulator(latency_ms=0, clock=FakeClock(), limits=small) as sim:
        url = sim.venue_url("aster") + "/fapi/v1/premiumIndex"
        answers = [requests.get(url, timeout=10) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-MBX-USED-WEIGHT-1M"] for a in answers[:3]] == ["1", "2", "3"]
        assert answers[-1].json()["code"] == -1003
        assert "current limit is 3 requests per minute" in answers[-1].json()["msg"]
        with pytest.raises(RateLimited):
            client_for(sim, retries=0).fetch(aster.SPEC.endpoint("fundingInfo"))


# -- arbitrary input -----------------------------------------------------------------------------

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
    "symbol": ["BTCUSDT", "GNSUSD", "TRUTHUSDT", "XAUUSD1"],
    "lastFundingRate": ["0.00010000", "0", "-0.00016927"],
    "nextFundingTime": [1789833600000],
    "markPrice": ["81267.96337318", None],
    "indexPrice": ["81294.30391304"],
    "fundingIntervalHours": [1, 4, 8],
    "status": ["TRADING"],
    "contractType": ["PERPETUAL"],
    "baseAsset": ["BTC", "TRUTH"],
    "quoteAsset": ["USDT", "USD1"],
    "marginAsset": ["USDT"],
    "underlyingType": ["COIN", "COMMODITY"],
}
TRAPS: dict[str, list[Any]] = {
    "symbol": ["USDT", "BTC", ""],
    "lastFundingRate": ["", "nan", "1e400", True],
    "nextFundingTime": [0, "soon", 10**17, -(10**17), 2**70],
    "markPrice": ["", "abc", "inf"],
    "indexPrice": [""],
    "fundingIntervalHours": [0, -8, ""],
    "status": ["SETTLING", "PENDING_TRADING", None],
    "contractType": ["", "CURRENT_QUARTER"],
    "baseAsset": [""],
    "quoteAsset": [""],
    "marginAsset": [None],
    "underlyingType": ["EQUITY", None],
}


def mostly(likely: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`likely` eight times as often as each of `others`."""
    return st.sampled_from([likely] * 8 + list(others)).flatmap(lambda strategy: strategy)


def rows_of(*keys: str) -> st.SearchStrategy[list[Any]]:
    full = st.fixed_dictionaries(
        {key: mostly(st.sampled_from(GOOD[key]), st.sampled_from(TRAPS[key]), JSON) for key in keys}
    )
    partial = st.fixed_dictionaries({}, optional={key: JSON for key in keys})
    return st.lists(mostly(full, partial, JSON), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
        JSON,
    ),
)
def test_arbitrary_rows_never_break_build_rows(premium: Any, info: Any, exchange_info: Any) -> None:
    payloads = {"premiumIndex": premium, "fundingInfo": info, "exchangeInfo": exchange_info}
    try:
        result = aster.build_rows(payloads, OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    listed = (
        0 if exchange_info is None or "exchangeInfo" in result.unusable else len(exchange_info["symbols"])
    )
    intervals = 0 if info is None or "fundingInfo" in result.unusable else len(info)
    assert len(result.rows) + result.bad_rows <= len(premium) + intervals + listed  # one outcome a row
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.contract_type == "linear"
        assert set(row.flags) <= set(FLAGS)


def test_history_rows_field_by_field_share_binances_parser():
    # [{"symbol": "BTCUSDT", "fundingTime": 1750060800000, "fundingRate": "0.00010000"}]
    parsed = aster.parse_history(load_json("aster", "fapi-v1-fundingRate-history.json"), "BTCUSDT")
    assert parsed.bad_rows == 0 and len(parsed.items) == 1
    [event] = parsed.items
    assert (event.exchange, event.native_symbol) == ("aster", "BTCUSDT")
    assert event.funding_time == datetime(2025, 6, 16, 8, tzinfo=UTC)
    assert (event.funding_rate, event.interval_hours, event.mark_price) == (0.0001, None, None)
    assert aster.parse_history(load_json("aster", "fapi-v1-fundingRate-history.json"), "ETHUSDT").items == []
    with pytest.raises(BadPayload):
        aster.parse_history({"code": -1121, "msg": "Invalid symbol."}, "BTCUSDT")


def test_history_is_the_binance_style_endpoint_charged_to_the_weight_pool():
    history = aster.SPEC.history
    request = history.request("BTCUSDT", 5, 9)
    assert (request.path, history.page_rows, history.paging) == ("/fapi/v1/fundingRate", 1000, "forward")
    assert dict(request.params) == {"symbol": "BTCUSDT", "startTime": "5", "endTime": "9", "limit": "1000"}
    assert aster.SPEC.limits[0].cost_of(request.name) == 1
