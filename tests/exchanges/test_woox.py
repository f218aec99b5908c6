"""WOO X adapter against the recorded v3 bodies: the bulk `fundingRate` (2025-07-04, one row kept by
ccxt), `futures?symbol=PERP_BTC_USDT` (2026-08-14) and `fundingRateHistory` (2025-07-04). Expected values
are copied by hand from those files; rows built from copies of the recorded row say what they changed."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import woox
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from rows import assert_row, by_native

OBSERVED = datetime(2025, 7, 4, 10, 13, 57, 798000, tzinfo=UTC)
"""The fundingRate body's `timestamp` 1751624037798."""
SETTLEMENT = datetime(2025, 7, 4, 16, 0, tzinfo=UTC)  # nextFundingTime 1751644800000


@pytest.fixture
def rates() -> dict[str, Any]:
    return load_json("woox", "v3-public-fundingRate.json")


@pytest.fixture
def futures() -> dict[str, Any]:
    return load_json("woox", "v3-public-futures.json")


def build(rates: Any, futures: Any = None, observed_at: datetime = OBSERVED):
    return woox.build_rows({"fundingRate": rates, "futures": futures}, observed_at)


def envelope(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "data": {"rows": list(rows)}, "timestamp": 1751624037798}


def btc_row(rates: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return copy.deepcopy(rates["data"]["rows"][0]) | changes


def test_spec_is_the_two_bulk_v3_calls_under_10_per_second_per_endpoint() -> None:
    spec = woox.SPEC
    assert (spec.id, spec.hosts) == ("woox", {"api": "https://api.woox.io"})
    rates, futures = spec.endpoints
    assert (rates.name, rates.method, rates.path, dict(rates.params), rates.role) == (
        "fundingRate",
        "GET",
        "/v3/public/fundingRate",
        {},
        Role.RATES,
    )
    assert (futures.name, futures.path, dict(futures.params), futures.role) == (
        "futures",
        "/v3/public/futures",
        {},
        Role.EXTRA,
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("public-v3", 10, 1.0, "endpoint")
    assert (limit.cost_of("fundingRate"), limit.cost_of("futures")) == (1, 1)
    assert limit.bucket_key("fundingRate", None) != limit.bucket_key("futures", None)
    assert spec.check_envelope is woox.check_envelope
    assert 1 <= spec.workers <= 4


def test_recorded_btc_row_uses_the_estimated_rate_and_interval(rates, futures) -> None:
    (row,) = build(rates, futures).rows
    assert_row(
        row,
        exchange="woox",
        symbol="BTC/USDT:USDT",
        native_symbol="PERP_BTC_USDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=-0.00000441,  # estFundingRate, not lastFundingRate -0.00004953
        interval_hours=8,  # estFundingIntervalHours
        next_funding_time=SETTLEMENT,
        predicted_rate=None,
        mark_price=63028.0,  # futures markPrice "63028"
        index_price=63049.0,
        open_interest_usd=221.3498 * 63028,  # openInterest (BTC) × mark
        volume_24h_usd=756000000.0,  # 24hAmount (USDT)
        asset_class="crypto",
        apr=-0.00000441 * 8760 / 8,
        observed_at=OBSERVED,
        flags=(),
    )


def test_last_funding_rate_is_the_settled_one_of_the_history(rates) -> None:
    """lastFundingRate equals the settled 08:00Z history row: the adapter must not report it."""
    (history,) = load_json("woox", "v3-public-fundingRateHistory.json")["data"]["rows"]
    (recorded,) = rates["data"]["rows"]
    assert (history["fundingRate"], history["fundingRateTimestamp"]) == (
        recorded["lastFundingRate"],
        recorded["lastFundingRateTimestamp"],
    )
    (row,) = build(rates).rows
    assert row.funding_rate == -0.00000441
    assert row.funding_rate != float(recorded["lastFundingRate"])


def test_interval_change_uses_the_estimated_interval_not_the_last(rates) -> None:
    """Copies of the recorded row: a symbol moving 8 h → 4 h, and one on 1 h."""
    moving = btc_row(rates, symbol="PERP_ETH_USDT", estFundingIntervalHours=4, estFundingRate="0.00005")
    hourly = btc_row(
        rates,
        symbol="PERP_SOL_USDT",
        estFundingIntervalHours=1,
        lastFundingIntervalHours=1,
        estFundingRate="0.0000125",
        nextFundingTime=1751626800000,  # 11:00Z
    )
    rows = by_native(build(envelope(moving, hourly)))
    assert_row(
        rows["PERP_ETH_USDT"],
        symbol="ETH/USDT:USDT",
        base="ETH",
        funding_rate=0.00005,
        interval_hours=4,
        next_funding_time=SETTLEMENT,
        apr=0.00005 * 2190,
        mark_price=None,
        open_interest_usd=None,
        volume_24h_usd=None,
        flags=(),
    )
    assert_row(
        rows["PERP_SOL_USDT"],
        symbol="SOL/USDT:USDT",
        funding_rate=0.0000125,
        interval_hours=1,
        next_funding_time=datetime(2025, 7, 4, 11, 0, tzinfo=UTC),
        apr=0.0000125 * 8760,
        flags=(),
    )


def test_non_perpetual_rows_are_dropped_not_counted_bad(rates) -> None:
    spot = btc_row(rates, symbol="SPOT_BTC_USDT")
    result = build(envelope(spot, btc_row(rates)))
    assert [row.native_symbol for row in result.rows] == ["PERP_BTC_USDT"]
    assert result.bad_rows == 0


def test_symbol_without_futures_row_keeps_null_prices(rates, futures) -> None:
    eth = btc_row(rates, symbol="PERP_ETH_USDT")
    rows = by_native(build(envelope(btc_row(rates), eth), futures))
    assert rows["PERP_BTC_USDT"].mark_price == 63028.0
    assert_row(rows["PERP_ETH_USDT"], mark_price=None, index_price=None, open_interest_usd=None, flags=())


def test_failed_or_wrong_shaped_futures_call_leaves_prices_null(rates) -> None:
    (failed,) = build(rates, None).rows
    assert (failed.mark_price, failed.open_interest_usd, failed.volume_24h_usd, failed.flags) == (
        None,
        None,
        None,
        (),
    )
    wrong = build(rates, {"success": True, "data": {}})
    assert wrong.unusable == {"futures"}
    assert wrong.rows[0].funding_rate == -0.00000441
    assert build(rates, envelope()).unusable == {"futures"}


def test_null_index_price_in_futures_stays_null(rates, futures) -> None:
    futures["data"]["rows"][0]["indexPrice"] = None
    (row,) = build(rates, futures).rows
    assert (row.index_price, row.mark_price) == (None, 63028.0)


def test_past_settlement_is_kept_and_flagged_stale(rates) -> None:
    (row,) = build(rates, observed_at=SETTLEMENT).rows
    assert row.flags == ("stale",)


def test_missing_interval_is_unknown_not_last_interval(rates) -> None:
    row = btc_row(rates)
    del row["estFundingIntervalHours"]  # lastFundingIntervalHours 8 stays: it must not be used
    (got,) = build(envelope(row)).rows
    assert (got.interval_hours, got.apr, got.flags) == (None, None, ("interval_unknown",))


def test_malformed_rows_cost_only_themselves(rates) -> None:
    rows = [
        btc_row(rates, estFundingRate=""),
        btc_row(rates, estFundingRate="n/a"),
        btc_row(rates, symbol="PERP_BTC"),
        btc_row(rates, estFundingIntervalHours=0),
        btc_row(rates, nextFundingTime="soon"),
        btc_row(rates, symbol="PERP_ETH_USDT"),
    ]
    result = build(envelope(*rows))
    assert [row.native_symbol for row in result.rows] == ["PERP_ETH_USDT"]
    assert result.bad_rows == 5


@pytest.mark.parametrize(
    "payload", [{"success": True, "data": []}, {"success": True}, [], "x", {"data": {"rows": {}}}]
)
def test_wrong_shapes_are_bad_payload(payload) -> None:
    with pytest.raises(BadPayload):
        build(payload)


def test_empty_rows_are_empty_payload() -> None:
    with pytest.raises(EmptyPayload):
        build(envelope())


def test_envelope_success_false_is_exchange_error_and_1003_rate_limited(rates, futures) -> None:
    check = woox.check_envelope
    assert check("woox", "fundingRate", rates) is None
    assert check("woox", "futures", futures) is None
    with pytest.raises(ExchangeError) as raised:
        check("woox", "fundingRate", {"success": False, "message": "no funding rate data for PERP_X"})
    assert not isinstance(raised.value, RateLimited)
    with pytest.raises(RateLimited):
        check("woox", "fundingRate", {"success": False, "code": -1003, "message": "Rate limit exceed."})
    with pytest.raises(RateLimited):
        check("woox", "fundingRate", {"code": -1003, "message": "Rate limit exceed."})
    with pytest.raises(BadPayload):
        check("woox", "fundingRate", {"data": {"rows": []}})
    with pytest.raises(BadPayload):
        check("woox", "fundingRate", [])


def test_one_cycle_through_the_simulator() -> None:
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            woox.SPEC,
            RateGate(woox.SPEC.id, woox.SPEC.limits),
            base_urls={h: sim.venue_url("woox") for h in woox.SPEC.hosts},
        )
        payloads = {e.name: client.fetch(e) for e in woox.SPEC.endpoints}
        result = woox.build_rows(payloads, OBSERVED)
        venue = sim.stats()["venues"]["woox"]
    assert (venue["violations"], venue["rejected"], venue["requests"]) == (0, 0, 2)
    (row,) = result.rows
    assert (row.symbol, row.funding_rate, row.interval_hours, row.mark_price) == (
        "BTC/USDT:USDT",
        -0.00000441,
        8,
        63028.0,
    )


def test_paced_calls_never_cross_the_simulated_limit() -> None:
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            woox.SPEC,
            RateGate(woox.SPEC.id, woox.SPEC.limits),
            base_urls={"api": sim.venue_url("woox")},
        )
        for _ in range(12):
            client.fetch(woox.SPEC.endpoint("fundingRate"))
        assert sim.stats()["venues"]["woox"]["violations"] == 0


class FrozenClock:
    def __call__(self) -> float:
        return 100.0


def test_eleventh_call_in_a_second_is_a_429_and_the_client_raises_rate_limited() -> None:
    with Simulator(latency_ms=0, clock=FrozenClock()) as sim:
        url = sim.venue_url("woox") + "/v3/public/fundingRate"
        answers = [requests.get(url, timeout=10) for _ in range(10)]
        assert {a.status_code for a in answers} == {200}
        over = requests.get(url, timeout=10)
        assert (over.status_code, over.json()) == (429, {"code": -1003, "message": "Rate limit exceed."})
        other = requests.get(sim.venue_url("woox") + "/v3/public/futures", timeout=10)
        assert other.status_code == 200  # each endpoint has its own window
        client = VenueClient(
            woox.SPEC,
            RateGate(woox.SPEC.id, woox.SPEC.limits),
            base_urls={"api": sim.venue_url("woox")},
            retries=0,
        )
        with pytest.raises(RateLimited):
            client.fetch(woox.SPEC.endpoint("fundingRate"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
RATE_ROW = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from(["PERP_BTC_USDT", "SPOT_BTC_USDT", "PERP_", "PERP_X_Y_Z", ""]) | JSON,
        "estFundingRate": st.sampled_from(["-0.00000441", "", "nan", "1e400"]) | JSON,
        "nextFundingTime": st.sampled_from([1751644800000, 0, 10**17, -(10**15)]) | JSON,
        "estFundingIntervalHours": st.sampled_from([8, 4, 1, 0, -8]) | JSON,
        "lastFundingRate": JSON,
    },
)
FUTURES_ROW = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from(["PERP_BTC_USDT", "PERP_ETH_USDT"]) | JSON,
        "markPrice": st.sampled_from(["63028", None, "x"]) | JSON,
        "indexPrice": st.sampled_from(["63049", None]) | JSON,
        "openInterest": st.sampled_from(["221.3498", "inf"]) | JSON,
        "24hAmount": st.sampled_from(["756000000", ""]) | JSON,
    },
)


def wrapped(row: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    rows = st.lists(row | JSON, max_size=5)
    return rows.map(lambda r: {"success": True, "data": {"rows": r}}) | JSON


@settings(max_examples=300, deadline=None)
@given(rates=wrapped(RATE_ROW), futures=wrapped(FUTURES_ROW) | st.none())
def test_arbitrary_rows_never_break_build_rows(rates: Any, futures: Any) -> None:
    try:
        result = build(rates, futures)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) <= len(rates["data"]["rows"])
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert set(row.flags) <= set(FLAGS)


def test_history_rows_field_by_field():
    # {"symbol": "PERP_BTC_USDT", "fundingRate": "-0.00004953", "fundingRateTimestamp": 1751616000000,
    #  "nextFundingTime": 1751644800000, "markPrice": "108708"}
    parsed = woox.parse_history(load_json("woox", "v3-public-fundingRateHistory.json"), "PERP_BTC_USDT")
    assert parsed.bad_rows == 0 and len(parsed.items) == 1
    [event] = parsed.items
    assert (event.exchange, event.native_symbol) == ("woox", "PERP_BTC_USDT")
    assert event.funding_time == datetime(2025, 7, 4, 8, tzinfo=UTC)
    assert (event.funding_rate, event.mark_price, event.interval_hours) == (-0.00004953, 108708.0, None)


def test_history_drops_other_symbols_counts_malformed_rows_and_pages_backward():
    payload = copy.deepcopy(load_json("woox", "v3-public-fundingRateHistory.json"))
    (row,) = payload["data"]["rows"]
    payload["data"]["rows"] = [{**row, "symbol": "PERP_ETH_USDT"}, {**row, "fundingRateTimestamp": "soon"}]
    assert woox.parse_history(payload, "PERP_BTC_USDT").bad_rows == 1
    with pytest.raises(BadPayload):
        woox.parse_history({"success": True, "data": {}}, "PERP_BTC_USDT")
    request = woox.SPEC.history.request("PERP_BTC_USDT", 5, 9)
    assert dict(request.params) == {"symbol": "PERP_BTC_USDT", "startTime": "5", "endTime": "9", "size": "25"}
    assert woox.SPEC.history.paging == "backward"
