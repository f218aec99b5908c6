"""Coinbase International (INTX) adapter against the recorded `GET /api/v1/instruments` body (two PERP
instruments, sandbox, 2024-03-07). Expected values are copied by hand from that file."""

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
from funding_finder.exchanges import coinbaseintl
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import assert_row as shared_assert_row

OBSERVED = datetime(2024, 3, 7, 16, 58, 6, tzinfo=UTC)
"""Just after both quotes' `timestamp` 2024-03-07T16:58:05.231Z."""
NEXT_HOUR = datetime(2024, 3, 7, 17, 0, tzinfo=UTC)
OVER_LIMIT_BODY = b'{"message":"Rate limit exceeded - Server allows 100 requests per second"}'


@pytest.fixture
def instruments() -> list[dict[str, Any]]:
    return load_json("coinbaseintl", "instruments.json")


def build(payload: Any, observed_at: datetime = OBSERVED):
    return coinbaseintl.build_rows({"instruments": payload}, observed_at)


def by_symbol(result) -> dict[str, FundingRate]:
    return {row.native_symbol: row for row in result.rows}


def assert_row(row: FundingRate, **expected: Any) -> None:
    shared_assert_row(row, approx_also=("funding_rate",), **expected)


def test_spec_is_one_bulk_instruments_call() -> None:
    spec = coinbaseintl.SPEC
    assert (spec.id, spec.hosts) == ("coinbaseintl", {"api": "https://api.international.coinbase.com"})
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.method, endpoint.path, dict(endpoint.params), endpoint.role) == (
        "instruments",
        "GET",
        "/api/v1/instruments",
        {},
        Role.RATES,
    )
    (limit,) = spec.limits
    assert (limit.capacity, limit.window_s, limit.scope, limit.cost_of("instruments")) == (10, 1.0, "ip", 1)
    assert spec.workers == 1
    assert spec.check_envelope is coinbaseintl.check_envelope


def test_eth_perp_row_field_by_field(instruments: list[dict[str, Any]]) -> None:
    assert_row(
        by_symbol(build(instruments))["ETH-PERP"],
        exchange="coinbaseintl",
        symbol="ETH/USDC:USDC",
        native_symbol="ETH-PERP",
        base="ETH",
        multiplier=1,
        quote="USDC",
        settle="USDC",
        contract_type="linear",
        funding_rate=-0.00015,  # predicted_funding per hour × 1 h
        interval_hours=1.0,  # funding_interval "3600000000000" ns
        next_funding_time=NEXT_HOUR,
        predicted_rate=None,
        mark_price=3812.13,
        index_price=3829.39,
        open_interest_usd=5153.5569 * 3812.13,
        volume_24h_usd=232030129.8846,  # notional_24hr
        asset_class="crypto",
        apr=-0.00015 * 8760,
        observed_at=OBSERVED,
        flags=(),
    )


def test_btc_perp_row_field_by_field(instruments: list[dict[str, Any]]) -> None:
    assert_row(
        by_symbol(build(instruments))["BTC-PERP"],
        symbol="BTC/USDC:USDC",
        base="BTC",
        quote="USDC",
        settle="USDC",
        contract_type="linear",
        funding_rate=-0.008291,  # sandbox value, 0.83 % per hour
        interval_hours=1.0,
        next_funding_time=NEXT_HOUR,
        mark_price=55540.0,
        index_price=67328.5,
        open_interest_usd=474.8874 * 55540,
        volume_24h_usd=0.0,
        apr=-0.008291 * 8760,
        flags=("mark_off_index",),  # sandbox quote: mark 17.5 % below the index
    )


def test_both_recorded_instruments_are_hourly_rows(instruments: list[dict[str, Any]]) -> None:
    result = build(instruments)
    assert ([row.native_symbol for row in result.rows], result.bad_rows) == (["ETH-PERP", "BTC-PERP"], 0)
    assert {row.interval_hours for row in result.rows} == {1.0}


def test_quote_timestamp_is_parsed_exactly_from_iso_8601(instruments: list[dict[str, Any]]) -> None:
    parsed = coinbaseintl.parse_instruments(instruments)
    assert [perp.quoted_at for perp in parsed.items] == [
        datetime(2024, 3, 7, 16, 58, 5, 231000, tzinfo=UTC)
    ] * 2
    assert coinbaseintl.iso_time("2024-03-07T17:58:05.231+01:00") == parsed.items[0].quoted_at


def test_settlement_is_the_next_full_hour_of_the_local_clock(instruments: list[dict[str, Any]]) -> None:
    on_the_hour = datetime(2024, 3, 7, 17, 0, tzinfo=UTC)
    assert {row.next_funding_time for row in build(instruments, on_the_hour).rows} == {
        datetime(2024, 3, 7, 18, 0, tzinfo=UTC)
    }


def test_nanosecond_interval_is_read_as_an_exact_integer() -> None:
    assert coinbaseintl.interval_hours_of("3600000000000") == 1.0
    assert coinbaseintl.interval_hours_of(28_800_000_000_000) == 8.0
    assert coinbaseintl.interval_hours_of("") is None
    for bad in ("3.6e12", "3600000000000.0", " 3600000000000", "3_600_000_000_000", 3.6e12, True, "0", "-1"):
        with pytest.raises(ValueError):
            coinbaseintl.interval_hours_of(bad)


def test_an_8h_interval_scales_the_hourly_rate_and_has_no_derived_settlement(
    instruments: list[dict[str, Any]],
) -> None:
    instruments[0]["funding_interval"] = "28800000000000"
    row = by_symbol(build(instruments))["ETH-PERP"]
    assert_row(row, interval_hours=8.0, funding_rate=-0.00015 * 8, apr=-0.00015 * 8760, flags=())
    assert row.next_funding_time is None


def test_missing_interval_is_unknown_and_keeps_the_hourly_rate(instruments: list[dict[str, Any]]) -> None:
    del instruments[1]["funding_interval"]
    row = by_symbol(build(instruments))["BTC-PERP"]
    assert (row.funding_rate, row.interval_hours, row.next_funding_time, row.apr) == (
        -0.008291,
        None,
        None,
        None,
    )
    assert row.flags == ("interval_unknown", "mark_off_index")  # the sandbox quote stays flagged


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "SPOT"}, "spot pair"),
        ({"trading_state": "PAUSED"}, "paused"),
        ({"trading_state": "DELISTED"}, "delisted"),
    ],
)
def test_spot_and_untradable_instruments_are_dropped_not_counted_bad(
    instruments: list[dict[str, Any]], change: dict[str, str], reason: str
) -> None:
    instruments[0].update(change)
    result = build(instruments)
    assert ([row.native_symbol for row in result.rows], result.bad_rows) == (["BTC-PERP"], 0), reason


def test_missing_type_and_state_are_unknown_so_kept(instruments: list[dict[str, Any]]) -> None:
    del instruments[0]["type"]
    instruments[0]["trading_state"] = None
    assert by_symbol(build(instruments))["ETH-PERP"].funding_rate == -0.00015


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("quote", "predicted_funding"), ""),
        (("quote", "predicted_funding"), "high"),
        (("quote", "timestamp"), "07/03/2024 16:58"),
        (("quote", "timestamp"), "2024-03-07T16:58:05"),  # no zone
        (("funding_interval",), "3.6e12"),
        (("base_asset_name",), ""),
        (("quote",), None),
    ],
)
def test_one_bad_row_costs_that_row(
    instruments: list[dict[str, Any]], path: tuple[str, ...], value: Any
) -> None:
    node = instruments[0]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    result = build(instruments)
    assert ([row.native_symbol for row in result.rows], result.bad_rows) == (["BTC-PERP"], 1)


@pytest.mark.parametrize("payload", [{"instruments": []}, "x", None, 3])
def test_wrong_shapes_are_bad_payload(payload: Any) -> None:
    with pytest.raises(BadPayload):
        build(payload)


def test_empty_list_is_empty_payload() -> None:
    with pytest.raises(EmptyPayload):
        build([])


def test_message_objects_are_errors_and_the_rate_limit_text_is_a_rate_limit(
    instruments: list[dict[str, Any]],
) -> None:
    with pytest.raises(RateLimited):
        coinbaseintl.check_envelope(
            "coinbaseintl",
            "instruments",
            {"message": "Rate limit exceeded - Server allows 100 requests per second"},
        )
    with pytest.raises(ExchangeError) as raised:
        coinbaseintl.check_envelope("coinbaseintl", "instruments", {"message": "Invalid instrument"})
    assert not isinstance(raised.value, RateLimited)
    assert coinbaseintl.check_envelope("coinbaseintl", "instruments", instruments) is None


def test_through_the_simulator_without_violations() -> None:
    mod = coinbaseintl
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            mod.SPEC,
            RateGate(mod.SPEC.id, mod.SPEC.limits),
            base_urls={h: sim.venue_url(mod.SPEC.id) for h in mod.SPEC.hosts},
        )
        payloads = {e.name: client.fetch(e) for e in mod.SPEC.endpoints}
        result = mod.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"][mod.SPEC.id]["violations"] == 0
    assert by_symbol(result)["ETH-PERP"].funding_rate == -0.00015
    assert len(result.rows) == 2


def test_crossing_the_simulated_limit_answers_429_and_the_client_raises() -> None:
    real = LIMITS["coinbaseintl"]
    small = {
        **LIMITS,
        "coinbaseintl": dataclasses.replace(real, pools=(dataclasses.replace(real.pools[0], capacity=1),)),
    }
    with Simulator(latency_ms=0, limits=small) as sim:
        client = VenueClient(
            coinbaseintl.SPEC,
            RateGate("coinbaseintl", ()),  # no own gate: the simulator must be what refuses
            base_urls={"api": sim.venue_url("coinbaseintl")},
            retries=0,
        )
        endpoint = coinbaseintl.SPEC.endpoint("instruments")
        client.fetch(endpoint)
        with pytest.raises(RateLimited) as raised:
            client.fetch(endpoint)
        over = requests.get(sim.venue_url("coinbaseintl") + endpoint.path, timeout=10)
        assert sim.stats()["venues"]["coinbaseintl"]["violations"] == 2
    assert "HTTP 429" in str(raised.value)
    assert (over.status_code, over.content) == (429, OVER_LIMIT_BODY)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def one_of(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values) | JSON


QUOTE = st.fixed_dictionaries(
    {},
    optional={
        "predicted_funding": one_of("-0.00015", "0.000143", "", "nan", "1e308", "x"),
        "mark_price": one_of("3812.13", "", "inf"),
        "index_price": one_of("3829.39", None),
        "timestamp": one_of("2024-03-07T16:58:05.231Z", "2024-03-07", "", None),
    },
)
ROW = st.fixed_dictionaries(
    {},
    optional={
        "symbol": one_of("BTC-PERP", "ETH-PERP", ""),
        "type": one_of("PERP", "SPOT", None),
        "trading_state": one_of("TRADING", "PAUSED", None),
        "base_asset_name": one_of("BTC", "1000PEPE", ""),
        "quote_asset_name": one_of("USDC", "USD", ""),
        "funding_interval": one_of("3600000000000", "28800000000000", "1", "0", "9" * 400, 3.6e12),
        "open_interest": one_of("474.8874", ""),
        "notional_24hr": one_of("0", "232030129.8846", "-"),
        "quote": QUOTE | JSON,
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW | JSON, max_size=6) | JSON)
def test_arbitrary_rows_never_break_build_rows(payload: Any) -> None:
    try:
        result = build(payload)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) + result.bad_rows <= len(payload)
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.next_funding_time in (None, NEXT_HOUR)
        assert set(row.flags) <= set(FLAGS)
