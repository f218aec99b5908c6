"""Lighter adapter against the recorded mainnet bodies (funding-rates, orderBookDetails, the 2026-09-19
BTC fragment with other venues' rows), the Robinhood-deployment TSLA fragment and its HTTP-200 rate-limit
body. Expected values are copied by hand from those files."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import lighter
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS

RATES = "funding-rates.json"
BOOKS = "orderBookDetails.json"
BTC_FRAGMENT = "api-v1-funding-rates-BTC.fragment__rs-fixture-20260919.json"
RH_FRAGMENT = "rh-api-v1-funding-rates-TSLA.fragment__rs-fixture-20260923.json"
RATE_LIMITED = "rh-api-v1-funding-rates-ratelimited-http200__rs-fixture.json"
OBSERVED = datetime(2026, 9, 19, 12, 34, 56, tzinfo=UTC)
"""Chosen: no Lighter body carries a time (the BTC fragment is dated 2026-09-19 by its source)."""
NEXT_HOUR = datetime(2026, 9, 19, 13, 0, tzinfo=UTC)
RECORDED_RATE = 0.00009599999999999999  # `rate` of ETH (market 0) and of BTC (market 1), 8 h basis


@pytest.fixture
def rates() -> dict[str, Any]:
    return load_json("lighter", RATES)


@pytest.fixture
def books() -> dict[str, Any]:
    return load_json("lighter", BOOKS)


def build(rates: Any, books: Any = None, observed_at: datetime = OBSERVED):
    return lighter.build_rows({"funding-rates": rates, "orderBookDetails": books}, observed_at)


def rate_row(**fields: Any) -> dict[str, Any]:
    return {"market_id": 0, "exchange": "lighter", "symbol": "ETH", "rate": RECORDED_RATE} | fields


def envelope(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"code": 200, "funding_rates": list(rows)}


def test_spec_is_one_bulk_rate_call_and_the_market_list() -> None:
    spec = lighter.SPEC
    assert spec.id == "lighter"
    assert spec.hosts == {"api": "https://mainnet.zklighter.elliot.ai"}
    rates, listing = spec.endpoints
    assert (rates.name, rates.method, rates.path, rates.role, dict(rates.params)) == (
        "funding-rates",
        "GET",
        "/api/v1/funding-rates",
        Role.RATES,
        {},
    )
    assert (listing.name, listing.method, listing.path, listing.role, dict(listing.params)) == (
        "orderBookDetails",
        "GET",
        "/api/v1/orderBookDetails",
        Role.INSTRUMENTS,
        {},
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("standard", 60, 60.0, "ip")
    assert [limit.cost_of(e.name) for e in spec.endpoints] == [1, 1]
    assert spec.check_envelope is lighter.check_envelope
    assert 1 <= spec.workers <= 4


def test_eth_row_field_by_field(rates: dict[str, Any], books: dict[str, Any]) -> None:
    result = build(rates, books)
    assert (len(result.rows), result.bad_rows, result.unusable) == (1, 0, set())
    (eth,) = result.rows
    assert eth.exchange == "lighter"
    assert eth.native_symbol == "ETH"
    assert eth.symbol == "ETH/USDC:USDC"
    assert (eth.base, eth.multiplier, eth.quote, eth.settle) == ("ETH", 1, "USDC", "USDC")
    assert eth.contract_type == "linear"
    assert eth.funding_rate == RECORDED_RATE / 8  # per 1 h interval
    assert eth.funding_rate == pytest.approx(0.000012)
    assert eth.interval_hours == 1.0
    assert eth.next_funding_time == NEXT_HOUR
    assert eth.predicted_rate is None
    assert (eth.mark_price, eth.index_price) == (None, None)  # neither endpoint has them
    assert eth.open_interest_usd is None  # open_interest 27350.8981 is in base units, no mark to value it
    assert eth.volume_24h_usd == 460664167.955905  # daily_quote_token_volume (USDC)
    assert eth.asset_class == "crypto"
    assert eth.apr == pytest.approx(RECORDED_RATE / 8 * 8760)
    assert eth.observed_at == OBSERVED
    assert eth.flags == ()


def test_rate_is_read_on_an_8h_basis_and_matches_the_hourly_history_units(rates: dict[str, Any]) -> None:
    """Pins the unverified reading: `/funding-rates` `rate` ÷ 8 = fraction per hour. Lighter's hourly
    history (`/fundings`, percent per hour) shows the same baseline: "0.0012" % = 0.000012 per hour."""
    (eth,) = build(rates).rows
    history = load_json("lighter", "fundings-1h.json")
    hourly_baseline = float(history["fundings"][0]["rate"]) / 100
    assert lighter.RATE_BASIS_HOURS == 8
    assert eth.funding_rate == pytest.approx(hourly_baseline)
    assert eth.funding_rate * 8 == pytest.approx(rates["funding_rates"][0]["rate"])
    assert eth.apr == pytest.approx(hourly_baseline * 8760)


def test_other_venues_rows_are_dropped_and_btc_kept_unlisted(books: dict[str, Any]) -> None:
    fragment = load_json("lighter", BTC_FRAGMENT)
    assert [r["exchange"] for r in fragment["funding_rates"]] == ["lighter", "binance", "hyperliquid"]
    result = build(fragment, books)
    assert result.bad_rows == 0
    (btc,) = result.rows  # 1 kept, 2 dropped (other venues)
    assert btc.native_symbol == "BTC"
    assert btc.symbol == "BTC/USDC:USDC"
    assert (btc.base, btc.multiplier, btc.quote, btc.settle, btc.contract_type) == (
        "BTC",
        1,
        "USDC",
        "USDC",
        "linear",
    )
    assert btc.funding_rate == RECORDED_RATE / 8  # not Binance's or Hyperliquid's 0.0001
    assert (btc.interval_hours, btc.next_funding_time) == (1.0, NEXT_HOUR)
    assert btc.volume_24h_usd is None  # market 1 is not in the one-market orderBookDetails body
    assert btc.asset_class == "crypto"
    assert btc.flags == ("unlisted",)


def test_robinhood_fragment_keeps_only_lighters_tsla_and_carries_no_asset_class() -> None:
    fragment = load_json("lighter", RH_FRAGMENT)
    parsed = lighter.parse_funding_rates(fragment)
    assert parsed.bad_rows == 0
    assert parsed.items == [lighter.Rate(market_id=16, symbol="TSLA", rate_8h=3.2e-05)]  # 1 kept, 3 dropped
    assert parsed.items[0].rate_8h / lighter.RATE_BASIS_HOURS == pytest.approx(4e-06)
    # Nothing in these rows says "equity": the adapter has no venue field to tag the asset class from.
    assert all(set(row) == {"market_id", "exchange", "symbol", "rate"} for row in fragment["funding_rates"])


@pytest.mark.parametrize(
    ("observed_at", "settlement"),
    [
        (OBSERVED, NEXT_HOUR),
        (NEXT_HOUR, NEXT_HOUR + timedelta(hours=1)),  # at the top of the hour: the next one
        (datetime(2026, 9, 19, 23, 59, 59, 999999, tzinfo=UTC), datetime(2026, 9, 20, 0, 0, tzinfo=UTC)),
    ],
)
def test_settlement_is_the_next_full_hour_after_observation(
    rates: dict[str, Any], observed_at: datetime, settlement: datetime
) -> None:
    (row,) = build(rates, None, observed_at).rows
    assert row.next_funding_time == settlement
    assert "stale" not in row.flags


@pytest.mark.parametrize(("field", "value"), [("status", "inactive"), ("market_type", "spot")])
def test_untradable_markets_are_dropped_by_status_and_type(
    rates: dict[str, Any], books: dict[str, Any], field: str, value: str
) -> None:
    books["order_book_details"][0][field] = value
    result = build(rates, books)
    assert (result.rows, result.bad_rows) == ([], 0)


@pytest.mark.parametrize("field", ["status", "market_type"])
def test_missing_status_or_type_is_unknown_and_kept(
    rates: dict[str, Any], books: dict[str, Any], field: str
) -> None:
    del books["order_book_details"][0][field]
    (row,) = build(rates, books).rows
    assert (row.native_symbol, row.flags) == ("ETH", ())


def test_row_without_venue_field_is_kept(rates: dict[str, Any]) -> None:
    del rates["funding_rates"][0]["exchange"]
    (row,) = build(rates).rows
    assert (row.native_symbol, row.flags) == ("ETH", ("unfiltered",))


def test_multiplier_prefix_comes_from_the_listed_symbol(books: dict[str, Any]) -> None:
    books["order_book_details"][0] |= {"symbol": "1000PEPE", "market_id": 7}
    (row,) = build(envelope(rate_row(market_id=7, symbol="1000PEPE")), books).rows
    assert (row.symbol, row.base, row.multiplier) == ("1000PEPE/USDC:USDC", "PEPE", 1000)


def test_without_the_market_list_rows_are_unfiltered(rates: dict[str, Any]) -> None:
    (row,) = build(rates, None).rows
    assert (row.symbol, row.volume_24h_usd, row.flags) == ("ETH/USDC:USDC", None, ("unfiltered",))


@pytest.mark.parametrize("listing", [{"code": 200}, {"code": 200, "order_book_details": []}, []])
def test_wrong_shaped_market_list_costs_only_the_filter(rates: dict[str, Any], listing: Any) -> None:
    result = build(rates, listing)
    assert result.unusable == {"orderBookDetails"}
    assert [row.flags for row in result.rows] == [("unfiltered",)]


def test_one_bad_row_costs_one_row(books: dict[str, Any]) -> None:
    payload = envelope(
        rate_row(rate="fast"),
        rate_row(rate=None),
        rate_row(market_id="0"),
        rate_row(market_id=True),
        rate_row(symbol=""),
        "ETH",
        rate_row(),
    )
    result = build(payload, books)
    assert ([r.native_symbol for r in result.rows], result.bad_rows) == (["ETH"], 6)


def test_bad_market_row_costs_that_market_only(rates: dict[str, Any], books: dict[str, Any]) -> None:
    books["order_book_details"][0]["market_id"] = 0.5
    result = build(rates, books)
    assert result.bad_rows == 1
    assert [row.flags for row in result.rows] == [("unlisted",)]


@pytest.mark.parametrize(
    "payload", [None, [], "x", {"code": 200}, {"code": 200, "funding_rates": {"symbol": "ETH"}}]
)
def test_wrong_shaped_rates_are_bad_payload(payload: Any) -> None:
    with pytest.raises(BadPayload):
        build(payload)


def test_empty_rate_list_is_empty_payload(books: dict[str, Any]) -> None:
    with pytest.raises(EmptyPayload):
        build(envelope(), books)


def test_recorded_code_23000_in_http_200_is_rate_limited() -> None:
    body = load_json("lighter", RATE_LIMITED)
    with pytest.raises(RateLimited, match="code 23000: Too Many Requests!"):
        lighter.check_envelope("lighter", "funding-rates", body)


def test_other_codes_are_exchange_errors_and_code_200_passes(
    rates: dict[str, Any], books: dict[str, Any]
) -> None:
    with pytest.raises(ExchangeError, match="code 21100") as raised:
        lighter.check_envelope("lighter", "funding-rates", {"code": 21100, "message": "invalid market"})
    assert not isinstance(raised.value, RateLimited)
    with pytest.raises(BadPayload):
        lighter.check_envelope("lighter", "funding-rates", {"funding_rates": []})
    assert lighter.check_envelope("lighter", "funding-rates", rates) is None
    assert lighter.check_envelope("lighter", "orderBookDetails", books) is None


def sim_client(sim: Simulator, **kwargs: Any) -> VenueClient:
    spec = lighter.SPEC
    return VenueClient(
        spec,
        RateGate(spec.id, spec.limits),
        base_urls={h: sim.venue_url(spec.id) for h in spec.hosts},
        **kwargs,
    )


def test_end_to_end_through_the_simulator() -> None:
    with Simulator(latency_ms=0) as sim:
        client = sim_client(sim)
        payloads = {e.name: client.fetch(e) for e in lighter.SPEC.endpoints}
        result = lighter.build_rows(payloads, OBSERVED)
        stats = sim.stats()["venues"]["lighter"]
    assert stats["violations"] == 0
    assert stats["by_endpoint"] == {"/api/v1/funding-rates": 1, "/api/v1/orderBookDetails": 1}
    (row,) = result.rows
    assert (row.symbol, row.funding_rate, row.next_funding_time) == (
        "ETH/USDC:USDC",
        RECORDED_RATE / 8,
        NEXT_HOUR,
    )
    assert row.volume_24h_usd == 460664167.955905


def test_crossing_the_simulated_limit_is_the_recorded_http_200_body_and_raises_rate_limited() -> None:
    venue = LIMITS["lighter"]
    assert [(p.capacity, p.window_s) for p in venue.pools] == [(60, 60.0)]  # the docs' figure
    tiny = {
        **LIMITS,
        "lighter": dataclasses.replace(venue, pools=(dataclasses.replace(venue.pools[0], capacity=1),)),
    }
    with Simulator(latency_ms=0, limits=tiny) as sim:
        client = sim_client(sim, retries=0)
        rates = lighter.SPEC.endpoint("funding-rates")
        client.fetch(rates)
        raw = client.session.get(sim.venue_url("lighter") + rates.path, timeout=10)
        assert (raw.status_code, raw.json()) == (200, load_json("lighter", RATE_LIMITED))
        with pytest.raises(RateLimited, match="23000"):
            client.fetch(rates)
        assert sim.stats()["venues"]["lighter"]["violations"] == 2
    assert client.gate.stats.pauses == 1  # a limit inside HTTP 200 pauses the venue like a 429


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
RATE_ROW = st.fixed_dictionaries(
    {},
    optional={
        "market_id": st.sampled_from([0, 1, 16, -1, 2**70]) | JSON,
        "exchange": st.sampled_from(["lighter", "binance", "hyperliquid", ""]) | JSON,
        "symbol": st.sampled_from(["ETH", "BTC", "1000PEPE", ""]) | JSON,
        "rate": st.sampled_from([RECORDED_RATE, 5e-05, 0, "0.0001", "", "x"]) | st.floats() | JSON,
    },
)
BOOK_ROW = st.fixed_dictionaries(
    {},
    optional={
        "market_id": st.sampled_from([0, 1, 7]) | JSON,
        "symbol": st.sampled_from(["ETH", "BTC", ""]) | JSON,
        "market_type": st.sampled_from(["perp", "spot"]) | JSON,
        "status": st.sampled_from(["active", "inactive"]) | JSON,
        "daily_quote_token_volume": st.sampled_from([460664167.955905, "1", ""]) | st.floats() | JSON,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rates=st.fixed_dictionaries({"funding_rates": st.lists(RATE_ROW | JSON, max_size=5)}) | JSON,
    listing=st.none()
    | st.fixed_dictionaries({"order_book_details": st.lists(BOOK_ROW | JSON, max_size=4)})
    | JSON,
)
def test_arbitrary_rows_never_break_build_rows(rates: Any, listing: Any) -> None:
    try:
        result = build(rates, listing)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) <= len(rates["funding_rates"])
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.interval_hours == 1.0
        assert row.next_funding_time == NEXT_HOUR
        assert set(row.flags) <= set(FLAGS)
