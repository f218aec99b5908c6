"""Paradex adapter against the recorded testnet bodies of 2024 (markets/summary for BTC-USD-PERP and the
one-market /v1/markets). Expected values are copied by hand from those files; rows of other kinds
(options, other intervals) are made in the tests from the recorded rows and say so."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import paradex
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import by_native

SUMMARY = "markets-summary-BTC-USD-PERP.json"
MARKETS = "markets-BTC-USD-PERP.json"
OBSERVED = datetime(2024, 6, 14, 15, 12, 42, 698000, tzinfo=UTC)
"""The summary row's `created_at` 1718377962698 ms: the body carries no other time."""
RATE = 0.00749938923192  # testnet value (SOURCES.md: not market-like), asserted as recorded
MARK = 67307.7225876


@pytest.fixture
def summary() -> dict[str, Any]:
    return load_json("paradex", SUMMARY)


@pytest.fixture
def markets() -> dict[str, Any]:
    return load_json("paradex", MARKETS)


def build(summary: Any, markets: Any = None, observed_at: datetime = OBSERVED):
    return paradex.build_rows({"markets-summary": summary, "markets": markets}, observed_at)


def summary_row(summary: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return copy.deepcopy(summary["results"][0]) | changes


def market_row(markets: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return copy.deepcopy(markets["results"][0]) | changes


def test_spec_is_one_bulk_summary_call_and_the_market_list() -> None:
    spec = paradex.SPEC
    assert spec.id == "paradex"
    assert spec.hosts == {"api": "https://api.prod.paradex.trade"}
    rates, listing = spec.endpoints
    assert (rates.name, rates.method, rates.path, rates.role, dict(rates.params)) == (
        "markets-summary",
        "GET",
        "/v1/markets/summary",
        Role.RATES,
        {"market": "ALL"},
    )
    assert (listing.name, listing.method, listing.path, listing.role, dict(listing.params)) == (
        "markets",
        "GET",
        "/v1/markets",
        Role.INSTRUMENTS,
        {},
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("public", 1500, 60.0, "ip")
    assert [limit.cost_of(e.name) for e in spec.endpoints] == [1, 1]
    assert spec.check_envelope is paradex.check_envelope
    assert 1 <= spec.workers <= 4


def test_recorded_btc_perp_row_field_by_field(summary: dict[str, Any], markets: dict[str, Any]) -> None:
    result = build(summary, markets)
    assert (len(result.rows), result.bad_rows, result.unusable) == (1, 0, set())
    (btc,) = result.rows
    assert btc.exchange == "paradex"
    assert btc.native_symbol == "BTC-USD-PERP"
    assert btc.symbol == "BTC/USD:USDC"  # USD-labelled, USDC-collateralised
    assert (btc.base, btc.multiplier, btc.quote, btc.settle) == ("BTC", 1, "USD", "USDC")
    assert btc.contract_type == "linear"
    assert btc.funding_rate == RATE
    assert btc.interval_hours is None  # this /markets body predates funding_period_hours
    assert btc.next_funding_time is None  # continuous funding: no settlement time
    assert btc.predicted_rate is None
    assert btc.mark_price == MARK
    assert btc.index_price == 66806.71304318  # underlying_price
    assert btc.open_interest_usd == pytest.approx(152.777 * MARK)
    assert btc.volume_24h_usd == 2611476.262600002
    assert btc.asset_class == "crypto"
    assert btc.apr is None
    assert btc.observed_at == OBSERVED
    assert btc.flags == ("interval_unknown",)


@pytest.mark.parametrize(("period", "hours"), [("8", 8.0), (8, 8.0), ("24", 24.0)])
def test_interval_is_the_markets_funding_period_hours(
    summary: dict[str, Any], markets: dict[str, Any], period: Any, hours: float
) -> None:
    # The recorded market row with the field a 2025+ /markets answer carries (8 for most, one at 24).
    markets["results"][0]["funding_period_hours"] = period
    (row,) = build(summary, markets).rows
    assert row.interval_hours == hours
    assert row.funding_rate == RATE  # a fraction per period, never rescaled
    assert row.apr == pytest.approx(RATE * 8760 / hours)
    assert row.next_funding_time is None
    assert row.flags == ()


@pytest.mark.parametrize("period", [0, "0", "", None])
def test_zero_or_missing_period_leaves_the_interval_unknown(
    summary: dict[str, Any], markets: dict[str, Any], period: Any
) -> None:
    markets["results"][0]["funding_period_hours"] = period
    (row,) = build(summary, markets).rows
    assert (row.interval_hours, row.apr, row.flags) == (None, None, ("interval_unknown",))


def test_no_settlement_time_is_invented_and_no_row_is_ever_stale(
    summary: dict[str, Any], markets: dict[str, Any]
) -> None:
    (row,) = build(summary, markets, OBSERVED + timedelta(days=800)).rows
    assert row.next_funding_time is None
    assert "stale" not in row.flags


def test_options_are_dropped_by_asset_kind(summary: dict[str, Any], markets: dict[str, Any]) -> None:
    # A perpetual option and a dated option in the market list (kinds as Paradex names them), with summary
    # rows shaped like the recorded one: the option rows carry "" (or a number) as funding_rate.
    markets["results"] += [
        market_row(markets, symbol="BTC-USD-96000-C", asset_kind="PERP_OPTION", funding_period_hours="24"),
        market_row(markets, symbol="ETH-USD-3000-P", asset_kind="OPTION", funding_period_hours="0"),
    ]
    summary["results"] += [
        summary_row(summary, symbol="BTC-USD-96000-C", funding_rate="0.0001"),
        summary_row(summary, symbol="ETH-USD-3000-P", funding_rate=""),
    ]
    result = build(summary, markets)
    assert [row.native_symbol for row in result.rows] == ["BTC-USD-PERP"]  # 1 kept, 2 dropped (type)
    assert result.bad_rows == 0


def test_market_without_asset_kind_is_kept(summary: dict[str, Any], markets: dict[str, Any]) -> None:
    del markets["results"][0]["asset_kind"]
    (row,) = build(summary, markets).rows
    assert (row.symbol, row.flags) == ("BTC/USD:USDC", ("interval_unknown",))


def test_without_the_market_list_rows_are_unfiltered_and_read_from_the_id(summary: dict[str, Any]) -> None:
    summary["results"] += [
        summary_row(summary, symbol="ETH-USD-3000-P", funding_rate=""),  # the documented option shape
        summary_row(summary, symbol="ETH-USD-PERP", funding_rate="-0.0002"),
    ]
    result = build(summary, None)
    rows = by_native(result)
    assert list(rows) == ["BTC-USD-PERP", "ETH-USD-PERP"]
    assert result.bad_rows == 0
    btc = rows["BTC-USD-PERP"]
    assert (btc.symbol, btc.base, btc.quote, btc.settle) == ("BTC/USD:USDC", "BTC", "USD", "USDC")
    assert btc.funding_rate == RATE
    assert btc.flags == ("interval_unknown", "unfiltered")
    assert rows["ETH-USD-PERP"].funding_rate == -0.0002


def test_option_id_with_a_rate_cannot_be_read_as_a_perpetual_without_the_list(
    summary: dict[str, Any],
) -> None:
    summary["results"].append(summary_row(summary, symbol="BTC-USD-96000-C", funding_rate="0.0001"))
    result = build(summary, None)
    assert ([r.native_symbol for r in result.rows], result.bad_rows) == (["BTC-USD-PERP"], 1)


def test_perpetual_missing_from_the_list_is_kept_unlisted(
    summary: dict[str, Any], markets: dict[str, Any]
) -> None:
    summary["results"].append(summary_row(summary, symbol="SOL-USD-PERP", funding_rate="0.00001"))
    rows = by_native(build(summary, markets))
    sol = rows["SOL-USD-PERP"]
    assert (sol.symbol, sol.base, sol.settle, sol.funding_rate) == ("SOL/USD:USDC", "SOL", "USDC", 0.00001)
    assert sol.flags == ("interval_unknown", "unlisted")
    assert rows["BTC-USD-PERP"].flags == ("interval_unknown",)


def test_wrong_shaped_market_list_costs_only_the_filter(summary: dict[str, Any]) -> None:
    result = build(summary, {"results": {"symbol": "BTC-USD-PERP"}})
    assert result.unusable == {"markets"}
    assert [row.flags for row in result.rows] == [("interval_unknown", "unfiltered")]
    empty = build(summary, {"results": []})
    assert (empty.unusable, empty.rows[0].flags) == ({"markets"}, ("interval_unknown", "unfiltered"))


def test_one_bad_row_costs_one_row(summary: dict[str, Any], markets: dict[str, Any]) -> None:
    markets["results"].append(market_row(markets, symbol="ETH-USD-PERP", base_currency="ETH"))
    summary["results"] += [
        summary_row(summary, symbol="ETH-USD-PERP", funding_rate="n/a"),
        summary_row(summary, symbol=None),
        summary_row(summary, symbol="ETH-USD-PERP", mark_price="NaN"),
        summary_row(summary, symbol="ETH-USD-PERP", funding_rate=""),  # a listed perpetual must fund
    ]
    result = build(summary, markets)
    assert ([r.native_symbol for r in result.rows], result.bad_rows) == (["BTC-USD-PERP"], 4)


def test_bad_market_row_costs_that_market_only(summary: dict[str, Any], markets: dict[str, Any]) -> None:
    markets["results"][0]["funding_period_hours"] = "-8"
    result = build(summary, markets)
    assert result.bad_rows == 1
    assert [row.flags for row in result.rows] == [("interval_unknown", "unlisted")]


@pytest.mark.parametrize("payload", [None, [], "x", {"result": []}, {"results": {"symbol": "BTC"}}])
def test_wrong_shaped_summary_is_bad_payload(payload: Any) -> None:
    with pytest.raises(BadPayload):
        build(payload)


def test_empty_summary_is_empty_payload(markets: dict[str, Any]) -> None:
    with pytest.raises(EmptyPayload):
        build({"results": []}, markets)


def test_error_object_is_an_exchange_error_and_results_pass(
    summary: dict[str, Any], markets: dict[str, Any]
) -> None:
    body = {"error": "VALIDATION_ERROR", "message": "market is required", "data": None}
    with pytest.raises(ExchangeError, match="VALIDATION_ERROR: market is required") as raised:
        paradex.check_envelope("paradex", "markets-summary", body)
    assert not isinstance(raised.value, RateLimited)
    assert paradex.check_envelope("paradex", "markets-summary", summary) is None
    assert paradex.check_envelope("paradex", "markets", markets) is None


def sim_client(sim: Simulator, **kwargs: Any) -> VenueClient:
    spec = paradex.SPEC
    return VenueClient(
        spec,
        RateGate(spec.id, spec.limits),
        base_urls={h: sim.venue_url(spec.id) for h in spec.hosts},
        **kwargs,
    )


def test_end_to_end_through_the_simulator() -> None:
    with Simulator(latency_ms=0) as sim:
        client = sim_client(sim)
        payloads = {e.name: client.fetch(e) for e in paradex.SPEC.endpoints}
        result = paradex.build_rows(payloads, OBSERVED)
        stats = sim.stats()["venues"]["paradex"]
    assert stats["violations"] == 0
    assert stats["by_endpoint"] == {"/v1/markets/summary": 1, "/v1/markets": 1}
    (row,) = result.rows
    assert (row.symbol, row.funding_rate, row.next_funding_time) == ("BTC/USD:USDC", RATE, None)


def test_crossing_the_simulated_limit_is_a_429_and_raises_rate_limited() -> None:
    venue = LIMITS["paradex"]
    assert [(p.capacity, p.window_s) for p in venue.pools] == [(1500, 60.0)]  # the docs' figure
    tiny = {
        **LIMITS,
        "paradex": dataclasses.replace(venue, pools=(dataclasses.replace(venue.pools[0], capacity=1),)),
    }
    with Simulator(latency_ms=0, limits=tiny) as sim:
        client = sim_client(sim, retries=0)
        rates = paradex.SPEC.endpoint("markets-summary")
        client.fetch(rates)
        with pytest.raises(RateLimited, match="HTTP 429"):
            client.fetch(rates)
        assert sim.stats()["venues"]["paradex"]["violations"] == 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
NUMBERISH = st.sampled_from(["0.0075", "-0.0002", "0", "", "x", "NaN", "1e400"]) | st.floats() | JSON
SUMMARY_ROW = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from(["BTC-USD-PERP", "ETH-USD-PERP", "BTC-USD-96000-C", "-USD-PERP", ""])
        | JSON,
        "funding_rate": NUMBERISH,
        "mark_price": NUMBERISH,
        "underlying_price": NUMBERISH,
        "open_interest": NUMBERISH,
        "volume_24h": NUMBERISH,
    },
)
MARKET_ROW = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from(["BTC-USD-PERP", "BTC-USD-96000-C"]) | JSON,
        "base_currency": st.sampled_from(["BTC", ""]) | JSON,
        "quote_currency": st.sampled_from(["USD", "USDC"]) | JSON,
        "settlement_currency": st.sampled_from(["USDC"]) | JSON,
        "asset_kind": st.sampled_from(["PERP", "PERP_OPTION", "OPTION"]) | JSON,
        "funding_period_hours": st.sampled_from(["8", 24, 0, "-1", ""]) | JSON,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rates=st.fixed_dictionaries({"results": st.lists(SUMMARY_ROW | JSON, max_size=5)}) | JSON,
    listing=st.none() | st.fixed_dictionaries({"results": st.lists(MARKET_ROW | JSON, max_size=4)}) | JSON,
)
def test_arbitrary_rows_never_break_build_rows(rates: Any, listing: Any) -> None:
    try:
        result = build(rates, listing)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) <= len(rates["results"])
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.next_funding_time is None
        assert set(row.flags) <= set(FLAGS)
