"""CoinEx adapter against the recorded `GET /v2/futures/funding-rate?market=BTCUSDT` body (live,
2024-05-15 per the shared SOURCES.md; one market). Expected values are copied by hand from it; rows built
from copies of the recorded row say what they changed."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import coinex
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import assert_row

RECORDING = "v2-futures-funding-rate.json"
SETTLEMENT = datetime(2024, 5, 15, 0, 0, tzinfo=UTC)  # latest_funding_time 1715731200000
AFTER = datetime(2024, 5, 15, 8, 0, tzinfo=UTC)  # next_funding_time 1715760000000
OBSERVED = datetime(2024, 5, 14, 20, 0, tzinfo=UTC)
"""The body has no timestamp. Its `latest_funding_time` is the upcoming settlement, so the capture lies
in the 8 h before 2024-05-15T00:00Z (SOURCES.md dates it to the day, 2024-05-15, in the recorder's zone)."""


@pytest.fixture
def payload() -> dict[str, Any]:
    return load_json("coinex", RECORDING)


def build(payload: Any, observed_at: datetime = OBSERVED):
    return coinex.build_rows({"funding-rate": payload}, observed_at)


def envelope(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"code": 0, "data": list(rows), "message": "OK"}


def btc_row(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return copy.deepcopy(payload["data"][0]) | changes


def test_spec_is_one_bulk_call_under_400_per_second_per_ip() -> None:
    spec = coinex.SPEC
    assert (spec.id, spec.hosts) == ("coinex", {"api": "https://api.coinex.com"})
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.method, endpoint.path, dict(endpoint.params), endpoint.role) == (
        "funding-rate",
        "GET",
        "/v2/futures/funding-rate",
        {},
        Role.RATES,
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope, limit.cost_of("funding-rate")) == (
        "ip",
        400,
        1.0,
        "ip",
        1,
    )
    assert spec.workers == 1


def test_recorded_row_reads_latest_as_current_and_next_as_predicted(payload) -> None:
    (row,) = build(payload).rows
    assert_row(
        row,
        exchange="coinex",
        symbol="BTC/USDT:USDT",
        native_symbol="BTCUSDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0,  # latest_funding_rate "0": the placeholder is the venue's value, kept
        interval_hours=8,  # 1715760000000 - 1715731200000
        next_funding_time=SETTLEMENT,
        predicted_rate=0.00021074,  # next_funding_rate, the period settling at 08:00Z
        mark_price=61602.22,
        index_price=None,
        open_interest_usd=None,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=0.0,
        observed_at=OBSERVED,
        flags=(),
    )


def test_inverse_and_other_intervals_from_copies_of_the_recorded_row(payload) -> None:
    inverse = btc_row(
        payload,
        market="BTCUSD",
        latest_funding_rate="0.0001",
        next_funding_time=1715745600000,  # +4 h
    )
    usdc = btc_row(
        payload,
        market="ETHUSDC",
        latest_funding_rate="-0.00003",
        next_funding_rate="0.00001",
        next_funding_time=1715734800000,  # +1 h
    )
    rows = {row.native_symbol: row for row in build(envelope(inverse, usdc)).rows}
    assert_row(
        rows["BTCUSD"],
        symbol="BTC/USD:BTC",
        base="BTC",
        quote="USD",
        settle="BTC",
        contract_type="inverse",
        funding_rate=0.0001,
        interval_hours=4,
        next_funding_time=SETTLEMENT,
        predicted_rate=0.00021074,
        apr=0.0001 * 2190,
        flags=(),
    )
    assert_row(
        rows["ETHUSDC"],
        symbol="ETH/USDC:USDC",
        base="ETH",
        quote="USDC",
        settle="USDC",
        contract_type="linear",
        funding_rate=-0.00003,
        interval_hours=1,
        predicted_rate=0.00001,
        apr=-0.00003 * 8760,
        flags=(),
    )


def test_rate_beyond_the_markets_recorded_cap_is_flagged_implausible(payload) -> None:
    # Recorded BTCUSDT: latest_funding_rate "0" inside max_funding_rate "0.00375" / min_funding_rate
    # "-0.00375" (8 h, far below the 4 %/h sanity bound: only the recorded cap can flag it).
    (recorded,) = build(payload).rows
    assert recorded.flags == ()

    def btc_flags(rate: str, **changes: Any) -> tuple[str, ...]:
        result = build(envelope(btc_row(payload, latest_funding_rate=rate, **changes)))
        assert result.bad_rows == 0
        return result.rows[0].flags

    assert btc_flags("0.00375") == btc_flags("-0.00375") == ()  # exactly at the cap and the floor
    assert btc_flags("0.0037501") == ("implausible_rate",)
    assert btc_flags("-0.0037501") == ("implausible_rate",)
    assert btc_flags("-0.0037501", max_funding_rate="?") == ("implausible_rate",)  # the floor bounds it
    assert btc_flags("0.0037501", max_funding_rate=None, min_funding_rate="?") == ()  # no readable bound


def test_frozen_rows_after_their_settlement_are_kept_and_flagged_stale(payload) -> None:
    """A replayed or frozen (ceased-venue) body: the settlement is past, the row stays, flagged."""
    (row,) = build(payload, datetime(2024, 5, 15, 12, 0, tzinfo=UTC)).rows
    assert (row.funding_rate, row.next_funding_time, row.flags) == (0.0, SETTLEMENT, ("stale",))


@pytest.mark.parametrize(
    "change",
    [{"next_funding_time": None}, {"next_funding_time": 1715731200000}, {"next_funding_time": 1715700000000}],
)
def test_interval_unknown_without_a_later_next_time(payload, change) -> None:
    (row,) = build(envelope(btc_row(payload, **change))).rows
    assert (row.interval_hours, row.apr, row.flags) == (None, None, ("interval_unknown",))
    assert row.next_funding_time == SETTLEMENT


def test_missing_next_rate_is_none_and_missing_times_unknown(payload) -> None:
    row = btc_row(payload)
    del row["next_funding_rate"], row["latest_funding_time"]
    (got,) = build(envelope(row)).rows
    assert (got.predicted_rate, got.next_funding_time, got.interval_hours) == (None, None, None)


def test_malformed_rows_cost_only_themselves(payload) -> None:
    rows = [
        btc_row(payload, latest_funding_rate=""),
        btc_row(payload, latest_funding_rate=None),
        btc_row(payload, market="BTCEUR"),
        btc_row(payload, market=None),
        btc_row(payload, latest_funding_time="soon"),
        btc_row(payload, market="ETHUSDT"),
    ]
    result = build(envelope(*rows))
    assert [row.native_symbol for row in result.rows] == ["ETHUSDT"]
    assert result.bad_rows == 5


@pytest.mark.parametrize("body", [{"code": 0, "data": {}}, {"code": 0}, [], "x", {"code": 0, "data": "rows"}])
def test_wrong_shapes_are_bad_payload(body) -> None:
    with pytest.raises(BadPayload):
        build(body)


def test_empty_rows_are_empty_payload() -> None:
    with pytest.raises(EmptyPayload):
        build(envelope())


def test_envelope_codes(payload) -> None:
    check = coinex.SPEC.check_envelope
    assert check("coinex", "funding-rate", payload) is None
    with pytest.raises(ExchangeError) as raised:
        check("coinex", "funding-rate", {"code": 3008, "data": {}, "message": "Service busy"})
    assert not isinstance(raised.value, RateLimited)
    assert "3008" in str(raised.value) and "Service busy" in str(raised.value)
    for code in (4213, "4213", 213, 4123):
        with pytest.raises(RateLimited):
            check("coinex", "funding-rate", {"code": code, "data": {}, "message": "rate limit"})
    with pytest.raises(BadPayload):
        check("coinex", "funding-rate", {"data": []})


def test_one_cycle_through_the_simulator() -> None:
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            coinex.SPEC,
            RateGate(coinex.SPEC.id, coinex.SPEC.limits),
            base_urls={h: sim.venue_url(coinex.SPEC.id) for h in coinex.SPEC.hosts},
        )
        payloads = {e.name: client.fetch(e) for e in coinex.SPEC.endpoints}
        result = coinex.build_rows(payloads, OBSERVED)
        venue = sim.stats()["venues"]["coinex"]
    assert (venue["violations"], venue["rejected"], venue["requests"]) == (0, 0, 1)
    (row,) = result.rows
    assert (row.symbol, row.predicted_rate, row.interval_hours) == ("BTC/USDT:USDT", 0.00021074, 8)


class FrozenClock:
    def __call__(self) -> float:
        return 100.0


def test_call_over_the_limit_is_a_429_with_code_4213_and_the_client_raises_rate_limited() -> None:
    limits = LIMITS["coinex"]
    small = {
        **LIMITS,
        "coinex": dataclasses.replace(limits, pools=(dataclasses.replace(limits.pools[0], capacity=3),)),
    }
    with Simulator(latency_ms=0, clock=FrozenClock(), limits=small) as sim:
        url = sim.venue_url("coinex") + "/v2/futures/funding-rate"
        answers = [requests.get(url, timeout=10) for _ in range(3)]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
        over = requests.get(url, timeout=10)
        assert (over.status_code, over.json()["code"]) == (429, 4213)
        client = VenueClient(
            coinex.SPEC,
            RateGate(coinex.SPEC.id, coinex.SPEC.limits),
            base_urls={"api": sim.venue_url("coinex")},
            retries=0,
        )
        with pytest.raises(RateLimited):
            client.fetch(coinex.SPEC.endpoint("funding-rate"))


def test_simulated_limit_is_the_published_400_per_second() -> None:
    (pool,) = LIMITS["coinex"].pools
    assert (pool.capacity, pool.window_s, pool.scope) == (400, 1.0, ())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
ROW = st.fixed_dictionaries(
    {},
    optional={
        "market": st.sampled_from(["BTCUSDT", "BTCUSD", "ETHUSDC", "USDT", "USD", "BTCEUR"]) | JSON,
        "latest_funding_rate": st.sampled_from(["0", "0.00021074", "", "nan", "1e400"]) | JSON,
        "latest_funding_time": st.sampled_from([1715731200000, 0, 10**17, -(10**15)]) | JSON,
        "next_funding_rate": st.sampled_from(["0.00021074", "", "inf"]) | JSON,
        "next_funding_time": st.sampled_from([1715760000000, 1715731200000, 0]) | JSON,
        "mark_price": st.sampled_from(["61602.22", "x"]) | JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW | JSON, max_size=6).map(lambda rows: {"code": 0, "data": rows}) | JSON)
def test_arbitrary_rows_never_break_build_rows(body: Any) -> None:
    try:
        result = build(body)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) + result.bad_rows == len(body["data"])  # no row is filtered on purpose
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.predicted_rate is None or math.isfinite(row.predicted_rate)
        assert row.contract_type in ("linear", "inverse")
        assert set(row.flags) <= set(FLAGS)
