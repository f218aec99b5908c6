"""dYdX v4 indexer `perpetualMarkets` recordings → rows; values copied by hand from the recordings."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, RateLimited
from funding_finder.exchanges import dydx
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_bytes, load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import by_native

FULL = "v4-perpetualMarkets__denismoroz-fra.json"  # 296 markets, 2026 (day unknown)
THREE = "perpetualMarkets-3markets.json"  # 2025-12-08
ONE = "perpetualMarkets.json"  # 2025-07-29
OBSERVED = datetime(2026, 5, 1, 12, 30, 5, tzinfo=UTC)
"""The 2026 capture's day is unknown (shared SOURCES.md); any observation time serves, since dYdX has no
time field and the settlement is derived from this one."""
NEXT_HOUR = datetime(2026, 5, 1, 13, 0, tzinfo=UTC)
PERMISSIONLESS = "FARTCOIN,RAYDIUM,9BB6NFECJBCTNNLFKO2FQVQBQ8HHM13KCYYCDQBGPUMP-USD"


@pytest.fixture
def markets():
    return load_json("dydx", FULL)


def build(payload, observed_at=OBSERVED):
    return dydx.build_rows({"perpetualMarkets": payload}, observed_at)


def test_spec_is_one_bulk_call_under_100_per_10_s_per_ip():
    spec = dydx.SPEC
    assert (spec.id, spec.hosts) == ("dydx", {"api": "https://indexer.dydx.trade"})
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.method, endpoint.path, dict(endpoint.params), endpoint.role) == (
        "perpetualMarkets",
        "GET",
        "/v4/perpetualMarkets",
        {},
        Role.RATES,
    )
    (limit,) = spec.limits
    assert (limit.capacity, limit.window_s, limit.scope, limit.cost_of("perpetualMarkets")) == (
        100,
        10.0,
        "ip",
        1,
    )
    assert spec.workers == 1


def test_btc_row_field_by_field_is_an_hourly_rate_settling_at_the_next_full_hour(markets):
    btc = by_native(build(markets))["BTC-USD"]
    assert btc.exchange == "dydx"
    assert btc.symbol == "BTC/USD:USDC"
    assert (btc.base, btc.multiplier, btc.quote, btc.settle) == ("BTC", 1, "USD", "USDC")
    assert btc.contract_type == "linear"
    assert btc.funding_rate == -0.00004318125  # per hour, not divided or multiplied
    assert btc.interval_hours == 1
    assert btc.next_funding_time == NEXT_HOUR
    assert btc.predicted_rate is None
    assert btc.mark_price == btc.index_price == 63902.58754
    assert btc.open_interest_usd == pytest.approx(722.1402 * 63902.58754)
    assert btc.volume_24h_usd == 284672407.8376
    assert btc.asset_class == "crypto"
    assert btc.apr == pytest.approx(-0.00004318125 * 8760)
    assert btc.flags == ()


def test_link_row_with_a_recorded_zero_rate_is_kept(markets):
    link = by_native(build(markets))["LINK-USD"]
    assert link.symbol == "LINK/USD:USDC"
    assert link.funding_rate == 0.0
    assert link.interval_hours == 1
    assert link.next_funding_time == NEXT_HOUR
    assert link.mark_price == 8.125737977
    assert link.open_interest_usd == pytest.approx(31972 * 8.125737977)
    assert link.volume_24h_usd == 37774.294
    assert link.flags == ()


def test_isolated_tokenised_stock_market_is_crypto_for_want_of_a_venue_field(markets):
    tslax = by_native(build(markets))["TSLAX-USD"]
    assert tslax.symbol == "TSLAX/USD:USDC"
    assert (tslax.base, tslax.multiplier) == ("TSLAX", 1)
    assert tslax.funding_rate == 0.0000125  # the isolated markets' defaultFundingRate1H
    assert tslax.apr == pytest.approx(0.1095)
    assert tslax.mark_price == 420.2579343
    assert tslax.open_interest_usd == pytest.approx(1.01 * 420.2579343)
    assert tslax.volume_24h_usd == 0.0
    assert tslax.asset_class == "crypto"


def test_permissionless_ticker_keeps_its_name_and_takes_the_symbol_before_the_comma(markets):
    row = by_native(build(markets))[PERMISSIONLESS]
    assert row.symbol == "FARTCOIN/USD:USDC"
    assert (row.base, row.quote, row.settle) == ("FARTCOIN", "USD", "USDC")
    assert row.mark_price == 0.1363506725
    assert row.open_interest_usd == pytest.approx(54440 * 0.1363506725)


def test_digits_leading_a_name_are_not_a_multiplier(markets):
    one_inch = by_native(build(markets))["1INCH-USD"]
    assert (one_inch.base, one_inch.multiplier, one_inch.symbol) == ("1INCH", 1, "1INCH/USD:USDC")
    assert one_inch.funding_rate == -0.000019975


def test_only_active_markets_are_kept_and_final_settlement_is_dropped_not_counted_bad(markets):
    result = build(markets)
    statuses = [m["status"] for m in markets["markets"].values()]
    assert (len(statuses), statuses.count("ACTIVE"), statuses.count("FINAL_SETTLEMENT")) == (296, 122, 174)
    assert (len(result.rows), result.bad_rows) == (122, 0)
    rows = by_native(result)
    assert "MATIC-USD" not in rows  # FINAL_SETTLEMENT, nextFundingRate "0"
    assert "MKR-USD" not in rows
    assert {row.interval_hours for row in result.rows} == {1.0}
    assert {row.next_funding_time for row in result.rows} == {NEXT_HOUR}


@pytest.mark.parametrize("status", ["PAUSED", "CANCEL_ONLY", "POST_ONLY", "INITIALIZING", "FINAL_SETTLEMENT"])
def test_every_status_but_active_is_dropped(markets, status):
    markets["markets"]["BTC-USD"]["status"] = status
    result = build(markets)
    assert "BTC-USD" not in by_native(result)
    assert (len(result.rows), result.bad_rows) == (121, 0)


def test_market_without_status_is_kept(markets):
    del markets["markets"]["BTC-USD"]["status"]
    assert by_native(build(markets))["BTC-USD"].funding_rate == -0.00004318125


@pytest.mark.parametrize("missing", [None, ""])
def test_rate_missing_just_after_the_hour_skips_the_market_and_is_never_zero(markets, missing):
    markets["markets"]["ETH-USD"]["nextFundingRate"] = missing
    result = build(markets)
    assert "ETH-USD" not in by_native(result)
    assert (len(result.rows), result.bad_rows) == (121, 0)


def test_older_recordings_give_the_same_fields():
    three = by_native(build(load_json("dydx", THREE), datetime(2025, 12, 8, 16, 20, tzinfo=UTC)))
    assert list(three) == ["BTC-USD", "ETH-USD", "SOL-USD"]
    sol = three["SOL-USD"]
    assert sol.funding_rate == -0.00000143181818181818
    assert sol.next_funding_time == datetime(2025, 12, 8, 17, 0, tzinfo=UTC)
    assert sol.open_interest_usd == pytest.approx(41917.9 * 135.3)
    assert sol.volume_24h_usd == 54043106.256
    (btc,) = build(load_json("dydx", ONE), datetime(2025, 7, 29, 5, 0, 1, tzinfo=UTC)).rows
    assert btc.funding_rate == 0.00016451111111111111
    assert btc.next_funding_time == datetime(2025, 7, 29, 6, 0, tzinfo=UTC)
    assert btc.mark_price == 118700.5426


def test_settlement_exactly_at_the_top_of_an_hour_is_the_next_hour(markets):
    top = datetime(2026, 5, 1, 13, 0, tzinfo=UTC)
    rows = build(markets, top).rows
    assert {row.next_funding_time for row in rows} == {datetime(2026, 5, 1, 14, 0, tzinfo=UTC)}
    assert all(row.flags == () for row in rows)


def test_malformed_rows_cost_only_themselves(markets):
    m = markets["markets"]
    m["BTC-USD"]["nextFundingRate"] = "n/a"
    m["ETH-USD"]["ticker"] = "ETH-USDT"
    m["LINK-USD"]["oraclePrice"] = "NaN"
    del m["CRV-USD"]["ticker"]
    m["SOL-USD"] = "not a market"
    result = build(markets)
    assert (len(result.rows), result.bad_rows) == (117, 5)
    assert by_native(result)["ADA-USD"].funding_rate == 0.0


@pytest.mark.parametrize(
    "payload",
    [[], "x", None, 3, {"errors": [{"msg": "Too many requests"}]}, {"markets": []}, {"markets": "x"}],
)
def test_wrong_shapes_are_bad_payload(payload):
    with pytest.raises(BadPayload):
        build(payload)


def test_no_markets_is_empty_payload():
    with pytest.raises(EmptyPayload):
        build({"markets": {}})


def test_no_envelope_check_for_an_http_200(markets):
    assert dydx.SPEC.check_envelope("dydx", "perpetualMarkets", markets) is None


def test_one_cycle_through_the_simulator_within_its_limits():
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            dydx.SPEC,
            RateGate(dydx.SPEC.id, dydx.SPEC.limits),
            base_urls={h: sim.venue_url(dydx.SPEC.id) for h in dydx.SPEC.hosts},
        )
        payloads = {e.name: client.fetch(e) for e in dydx.SPEC.endpoints}
        result = dydx.build_rows(payloads, OBSERVED)
        stats = sim.stats()["venues"]["dydx"]
    assert (stats["requests"], stats["violations"]) == (1, 0)
    assert len(result.rows) == 122
    assert by_native(result)["ETH-USD"].funding_rate == -0.00000143125


def test_crossing_the_simulated_limit_is_a_429_the_client_raises_as_rate_limited():
    indexer = dataclasses.replace(LIMITS["dydx"].pool("indexer"), capacity=2)
    small = {**LIMITS, "dydx": dataclasses.replace(LIMITS["dydx"], pools=(indexer,))}
    with Simulator(latency_ms=0, limits=small) as sim:
        url = sim.venue_url("dydx") + "/v4/perpetualMarkets"
        answers = [requests.get(url, timeout=10) for _ in range(3)]
        client = VenueClient(
            dydx.SPEC, RateGate("dydx", dydx.SPEC.limits), base_urls={"api": sim.venue_url("dydx")}, retries=0
        )
        with pytest.raises(RateLimited):
            client.fetch(dydx.SPEC.endpoints[0])
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].content == load_bytes("dydx", FULL)
    assert answers[0].headers["RateLimit-Remaining"] == "1"
    assert answers[2].json() == {"errors": [{"msg": "Too many requests"}]}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
NUMBERISH = st.sampled_from(["-0.00004318125", "0", "0.0000125", "", "abc", "NaN", "1e400"]) | JSONISH
MARKET = st.fixed_dictionaries(
    {},
    optional={
        "ticker": st.sampled_from(["BTC-USD", "A,B,C-USD", ",X-USD", "BTC", "BTC-USDT", "-USD"]) | JSONISH,
        "status": st.sampled_from(["ACTIVE", "FINAL_SETTLEMENT"]) | JSONISH,
        "nextFundingRate": NUMBERISH,
        "oraclePrice": NUMBERISH,
        "openInterest": NUMBERISH,
        "volume24H": NUMBERISH,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=6), MARKET | JSONISH, max_size=6) | JSONISH)
def test_arbitrary_markets_never_break_build_rows(markets):
    payload = {"markets": markets} if isinstance(markets, dict) else markets
    try:
        result = build(copy.deepcopy(payload))
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) + result.bad_rows <= len(markets)
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert (row.interval_hours, row.next_funding_time) == (1.0, NEXT_HOUR)
        assert row.symbol.endswith("/USD:USDC")
        assert set(row.flags) <= set(FLAGS)


def test_history_rows_field_by_field():
    parsed = dydx.parse_history(load_json("dydx", "historicalFunding-3rows.json"), "BTC-USD")
    assert parsed.bad_rows == 0 and len(parsed.items) == 3
    newest, _, oldest = parsed.items  # the indexer answers newest first
    # {"rate": "0.000002375", "price": "89993.8", "effectiveAt": "2025-12-08T16:00:00.219Z"}
    assert (newest.exchange, newest.native_symbol) == ("dydx", "BTC-USD")
    assert newest.funding_time == datetime(2025, 12, 8, 16, tzinfo=UTC)  # 219 ms of block latency rounded off
    assert (newest.funding_rate, newest.mark_price, newest.interval_hours) == (0.000002375, 89993.8, None)
    # {"rate": "0.000000625", "price": "91459.59191", "effectiveAt": "2025-12-08T14:00:00.112Z"}
    assert (oldest.funding_time, oldest.funding_rate, oldest.mark_price) == (
        datetime(2025, 12, 8, 14, tzinfo=UTC),
        0.000000625,
        91459.59191,
    )
    # {"rate": "0.000176", "price": "118536.67532", "effectiveAt": "2025-07-29T05:00:01.053Z"}: 1.053 s late
    [single] = dydx.parse_history(load_json("dydx", "historicalFunding.json"), "BTC-USD").items
    assert (single.funding_time, single.funding_rate) == (
        datetime(2025, 7, 29, 5, 0, 1, tzinfo=UTC),
        0.000176,
    )


def test_history_drops_other_tickers_counts_malformed_rows_and_pages_backward_by_time():
    payload = copy.deepcopy(load_json("dydx", "historicalFunding-3rows.json"))
    payload["historicalFunding"][0]["ticker"] = "ETH-USD"
    payload["historicalFunding"][1]["effectiveAt"] = "2025-12-08 15:00"  # no zone
    parsed = dydx.parse_history(payload, "BTC-USD")
    assert parsed.bad_rows == 1 and [e.funding_rate for e in parsed.items] == [0.000000625]
    with pytest.raises(BadPayload):
        dydx.parse_history({"errors": [{"msg": "x"}]}, "BTC-USD")
    request = dydx.SPEC.history.request("BTC-USD", 0, 1765209600219)
    assert request.path == "/v4/historicalFunding/BTC-USD" and dydx.SPEC.history.paging == "backward"
    assert dict(request.params) == {"limit": "1000", "effectiveBeforeOrAt": "2025-12-08T16:00:00.219Z"}
