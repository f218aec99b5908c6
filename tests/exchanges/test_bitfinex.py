"""Bitfinex adapter against the recorded `status/deriv?keys=ALL` rows (10 keys, 2026-08-27), the 2023
single-key capture and the recorded 429 bodies. Expected values are copied by hand from those files."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import bitfinex
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_bytes, load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import assert_row

ALL_KEYS = "v2-status-deriv-keys-ALL__arb-chain-bot-20260827.trimmed.json"
OBSERVED = datetime(2026, 8, 27, 19, 3, 10, tzinfo=UTC)
"""Latest row MTS of the 2026 body (1787857390000; the shared SOURCES.md dates the capture 18:23Z)."""
SETTLEMENT = datetime(2026, 8, 28, 0, 0, tzinfo=UTC)  # [8] 1787875200000 on every 2026 row
OBSERVED_2023 = datetime(2023, 8, 4, 16, 4, 19, tzinfo=UTC)  # MTS 1691165059000


@pytest.fixture
def statuses() -> list[Any]:
    return load_json("bitfinex", ALL_KEYS)


def build(payload: Any, observed_at: datetime = OBSERVED):
    return bitfinex.build_rows({"status-deriv": payload}, observed_at)


def by_key(result) -> dict[str, FundingRate]:
    return {row.native_symbol: row for row in result.rows}


def test_spec_is_one_bulk_call_under_90_per_minute_per_endpoint() -> None:
    spec = bitfinex.SPEC
    assert (spec.id, spec.hosts) == ("bitfinex", {"api": "https://api-pub.bitfinex.com"})
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.method, endpoint.path, dict(endpoint.params), endpoint.role) == (
        "status-deriv",
        "GET",
        "/v2/status/deriv",
        {"keys": "ALL"},
        Role.RATES,
    )
    (limit,) = spec.limits
    assert (limit.capacity, limit.window_s, limit.scope, limit.cost_of("status-deriv")) == (
        90,
        60.0,
        "endpoint",
        1,
    )
    assert spec.workers == 1
    assert spec.check_envelope is bitfinex.check_envelope


def test_btc_row_field_by_field(statuses: list[Any]) -> None:
    assert_row(
        by_key(build(statuses))["tBTCF0:USTF0"],
        exchange="bitfinex",
        symbol="BTC/USDT:USDT",
        native_symbol="tBTCF0:USTF0",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.00015129,  # [12] CURRENT_FUNDING
        predicted_rate=0.00021483,  # [9] NEXT_FUNDING_ACCRUED
        interval_hours=8,
        next_funding_time=SETTLEMENT,
        mark_price=80135.875,  # [15], not [3] 80180.29806025 (the derivative's own book)
        index_price=80132.5,  # [4] SPOT_PRICE
        open_interest_usd=8806.24112386 * 80135.875,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=0.00015129 * 1095,
        observed_at=OBSERVED,
        flags=(),
    )


def test_index_12_is_the_rate_and_index_9_the_predicted_rate(statuses: list[Any]) -> None:
    """The pinned reading of the unverified [12]/[9] question: ETH has [12] = 0 and [9] = 0.00010756."""
    eth = by_key(build(statuses))["tETHF0:USTF0"]
    assert_row(
        eth,
        symbol="ETH/USDT:USDT",
        base="ETH",
        funding_rate=0.0,
        predicted_rate=0.00010756,
        apr=0.0,
        mark_price=2506.2858,
        index_price=2505.95,
        open_interest_usd=13117.08706889 * 2506.2858,
        next_funding_time=SETTLEMENT,
        flags=(),
    )


def test_negative_predicted_rate_row(statuses: list[Any]) -> None:
    assert_row(
        by_key(build(statuses))["tAAVEF0:USTF0"],
        symbol="AAVE/USDT:USDT",
        base="AAVE",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0,
        predicted_rate=-0.00045776,
        interval_hours=8,
        mark_price=128.5068,
        index_price=128.785,
        open_interest_usd=3036.8992216 * 128.5068,
        flags=(),
    )


def test_every_recorded_key_is_a_row_with_the_8h_interval(statuses: list[Any]) -> None:
    result = build(statuses)
    assert (len(statuses), len(result.rows), result.bad_rows) == (10, 10, 0)
    assert [row.native_symbol for row in result.rows] == [s[0] for s in statuses]
    assert {row.interval_hours for row in result.rows} == {8}
    assert sum(row.funding_rate != 0 for row in result.rows) == 1  # [12] is 0 on 9 of 10 keys


def test_2023_single_key_capture() -> None:
    (row,) = build(load_json("bitfinex", "status-deriv.json"), OBSERVED_2023).rows
    assert_row(
        row,
        symbol="BTC/USDT:USDT",
        funding_rate=0.00014548,
        predicted_rate=0.00000527,
        interval_hours=8,
        next_funding_time=datetime(2023, 8, 5, 0, 0, tzinfo=UTC),  # [8] 1691193600000
        mark_price=29278.8925,
        index_price=29277.5,
        open_interest_usd=9636.07644994 * 29278.8925,
        flags=(),
    )


def test_a_settled_row_is_kept_and_flagged_stale(statuses: list[Any]) -> None:
    result = build(statuses, SETTLEMENT)
    assert len(result.rows) == 10
    flags = {row.native_symbol: row.flags for row in result.rows}
    assert flags.pop("tAPTF0:USTF0") == ("mark_off_index", "stale")  # mark 0.574594, index 0.54152: +6.1 %
    assert set(flags.values()) == {("stale",)}


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("tTESTBTCF0:TESTUSDTF0", "paper trading"),
        ("TESTBTCF0:TESTUSDTF0", "paper trading, as the handbook writes it"),
        ("tBTCF1:USTF0", "not F0, so not a perpetual"),
    ],
)
def test_keys_that_are_not_live_perpetuals_are_dropped_not_counted_bad(
    statuses: list[Any], key: str, reason: str
) -> None:
    statuses[0][0] = key
    result = build(statuses)
    assert (len(result.rows), result.bad_rows) == (9, 0), reason


def test_eur_margined_key_is_not_counted_in_dollars(statuses: list[Any]) -> None:
    statuses[3][0] = "tBTCF0:EUTF0"
    row = by_key(build(statuses))["tBTCF0:EUTF0"]
    assert (row.symbol, row.quote, row.settle, row.open_interest_usd) == (
        "BTC/EURT:EURT",
        "EURT",
        "EURT",
        None,
    )
    assert row.mark_price == 80135.875


def test_missing_settlement_time_is_unknown_not_invented(statuses: list[Any]) -> None:
    statuses[0][8] = None
    row = by_key(build(statuses))["tETCF0:USTF0"]
    assert (row.next_funding_time, row.interval_hours, row.flags) == (None, 8, ())


@pytest.mark.parametrize(
    ("position", "value"),
    [
        (0, None),
        (0, "tBTCUSD"),  # a spot pair: no margin part
        (0, "tXYZF0:ABCF0"),  # unknown margin currency
        (12, None),
        (12, "high"),
        (8, "soon"),
        (8, 10**17),
    ],
)
def test_one_bad_row_costs_that_row(statuses: list[Any], position: int, value: Any) -> None:
    statuses[0][position] = value
    result = build(statuses)
    assert (len(result.rows), result.bad_rows) == (9, 1)
    assert "tETCF0:USTF0" not in by_key(result)


def test_short_or_non_array_rows_cost_one_row_each(statuses: list[Any]) -> None:
    payload = [statuses[0][:10], {"key": "tBTCF0:USTF0"}, None, statuses[3]]
    result = build(payload)
    assert result.bad_rows == 3
    assert [row.native_symbol for row in result.rows] == ["tBTCF0:USTF0"]


@pytest.mark.parametrize(
    "payload", [{"error": "ERR_RATE_LIMIT"}, "x", None, 3, ["error", 11010, "ratelimit: error"]]
)
def test_wrong_shapes_are_bad_payload(payload: Any) -> None:
    with pytest.raises(BadPayload):
        build(payload)


def test_empty_list_is_empty_payload() -> None:
    with pytest.raises(EmptyPayload):
        build([])


def test_recorded_429_bodies_are_rate_limits() -> None:
    for name in ("429-v2.json", "429-v1.json"):
        with pytest.raises(RateLimited):
            bitfinex.check_envelope("bitfinex", "status-deriv", load_json("bitfinex", name))


def test_other_error_arrays_are_exchange_errors(statuses: list[Any]) -> None:
    with pytest.raises(ExchangeError) as raised:
        bitfinex.check_envelope("bitfinex", "status-deriv", ["error", 10020, "symbol: invalid"])
    assert not isinstance(raised.value, RateLimited)
    assert "10020" in str(raised.value)
    assert bitfinex.check_envelope("bitfinex", "status-deriv", statuses) is None


def test_through_the_simulator_without_violations() -> None:
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            bitfinex.SPEC,
            RateGate(bitfinex.SPEC.id, bitfinex.SPEC.limits),
            base_urls={h: sim.venue_url(bitfinex.SPEC.id) for h in bitfinex.SPEC.hosts},
        )
        payloads = {e.name: client.fetch(e) for e in bitfinex.SPEC.endpoints}
        result = bitfinex.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"]["bitfinex"]["violations"] == 0
    assert by_key(result)["tBTCF0:USTF0"].funding_rate == 0.00015129
    assert len(result.rows) == 10


def test_crossing_the_simulated_limit_answers_the_recorded_429_and_the_client_raises() -> None:
    real = LIMITS["bitfinex"]
    small = {
        **LIMITS,
        "bitfinex": dataclasses.replace(real, pools=(dataclasses.replace(real.pools[0], capacity=2),)),
    }
    with Simulator(latency_ms=0, limits=small) as sim:
        # A gate without limits, so that the simulator (not our own gate) is what stops the third call.
        client = VenueClient(
            bitfinex.SPEC,
            RateGate(bitfinex.SPEC.id, ()),
            base_urls={"api": sim.venue_url("bitfinex")},
            retries=0,
        )
        endpoint = bitfinex.SPEC.endpoint("status-deriv")
        client.fetch(endpoint)
        client.fetch(endpoint)
        with pytest.raises(RateLimited) as raised:
            client.fetch(endpoint)
        over = requests.get(
            sim.venue_url("bitfinex") + "/v2/status/deriv", params={"keys": "ALL"}, timeout=10
        )
        assert sim.stats()["venues"]["bitfinex"]["violations"] == 2
    assert "ratelimit: error" in str(raised.value)
    assert raised.value.retry_after_s is not None and 0 < raised.value.retry_after_s <= 60
    assert (over.status_code, over.content) == (429, load_bytes("bitfinex", "429-v2.json"))


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
GOOD = {
    0: ["tBTCF0:USTF0", "tETHF0:USTF0", "tBTCF0:EUTF0", "TESTBTCF0:TESTUSDTF0", "tBTCUSD", "t:", "tF0:USTF0"],
    8: [1787875200000, None, 0, -(10**17)],
    9: [0.00021483, None, "0.1"],
    12: [0.00015129, 0, -0.00045776, float("nan"), "x"],
    15: [80135.875, None, float("inf")],
    4: [80132.5, None],
    18: [8806.24112386, None, True],
}


def status_row() -> st.SearchStrategy[list[Any]]:
    def fill(values: dict[int, Any], length: int) -> list[Any]:
        return [values.get(i) for i in range(length)]

    good = st.fixed_dictionaries({i: st.sampled_from(v) | JSON for i, v in GOOD.items()})
    return st.builds(fill, good, st.integers(min_value=0, max_value=24))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(status_row() | JSON, max_size=6) | JSON)
def test_arbitrary_rows_never_break_build_rows(payload: Any) -> None:
    try:
        result = build(payload)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) + result.bad_rows <= len(payload)
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.interval_hours == 8
        assert set(row.flags) <= set(FLAGS)
        assert row.predicted_rate is None or math.isfinite(row.predicted_rate)
