"""Backpack adapter against the recorded `markPrices` bodies: the 8-row bulk capture of 2025-10-03 and the
BTC_USDC_PERP element of 2025-07-21 (both served from `.derived.` files made strict JSON). No
`/api/v1/markets` body was ever recorded: the market lists below are written by hand in the documented
field names (`symbol`, `baseSymbol`, `quoteSymbol`, `marketType`, `orderBookState`, `fundingInterval` in
ms) and say so; every funding value asserted comes from the recordings."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from funding_finder.errors import (
    BadPayload,
    EmptyPayload,
    ExchangeError,
    FetchError,
    HttpClientError,
    RateLimited,
)
from funding_finder.exchanges import backpack
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_bytes, load_json
from funding_finder.simulator import Simulator
from rows import assert_row, by_native

BULK = "markPrices-8.derived.json"
BTC = "markPrices-BTC_USDC_PERP.derived.json"
OBSERVED = datetime(2025, 10, 3, 10, 30, tzinfo=UTC)
"""The body has no timestamp: a time on the capture day before its 11:00Z settlement."""
SETTLEMENT = datetime(2025, 10, 3, 11, 0, tzinfo=UTC)  # nextFundingTimestamp 1759489200000
HOUR_MS, EIGHT_HOURS_MS = 3_600_000, 28_800_000


@pytest.fixture
def marks() -> list[dict[str, Any]]:
    return load_json("backpack", BULK)


def market(symbol: str, interval_ms: Any = HOUR_MS, **changes: Any) -> dict[str, Any]:
    """A markets row in the documented shape (hand-written: no markets body was recorded)."""
    base, quote, _ = symbol.rsplit("_", 2)
    row = {
        "symbol": symbol,
        "baseSymbol": base,
        "quoteSymbol": quote,
        "marketType": "PERP",
        "orderBookState": "Open",
        "fundingInterval": interval_ms,
    }
    return row | changes


def build(marks: Any, markets: Any = None, observed_at: datetime = OBSERVED):
    return backpack.build_rows({"markPrices": marks, "markets": markets}, observed_at)


def test_spec_is_mark_prices_plus_the_market_list() -> None:
    spec = backpack.SPEC
    assert (spec.id, spec.hosts) == ("backpack", {"api": "https://api.backpack.exchange"})
    marks, markets = spec.endpoints
    assert (marks.name, marks.method, marks.path, dict(marks.params), marks.role) == (
        "markPrices",
        "GET",
        "/api/v1/markPrices",
        {},
        Role.RATES,
    )
    assert (markets.name, markets.path, dict(markets.params), markets.role) == (
        "markets",
        "/api/v1/markets",
        {},
        Role.INSTRUMENTS,
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("ip", 20, 1.0, "ip")
    assert (limit.cost_of("markPrices"), limit.cost_of("markets")) == (1, 1)


def test_derived_files_change_no_byte_but_the_json_framing() -> None:
    truncated = load_bytes("backpack", "markPrices-8.truncated.json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated)  # trailing comma before "]"
    assert load_bytes("backpack", BULK) == truncated.replace(b"},\n]\n", b"}\n]\n")
    element = load_bytes("backpack", "markPrices-BTC_USDC_PERP.element.json")
    assert load_bytes("backpack", BTC) == b"[\n" + element.rstrip(b"\n") + b"\n]\n"


def test_without_markets_every_interval_is_unknown(marks) -> None:
    result = build(marks, None)
    assert (len(result.rows), result.bad_rows, result.unusable) == (8, 0, set())
    assert all(row.flags == ("interval_unknown", "unfiltered") for row in result.rows)
    assert all(row.interval_hours is None and row.apr is None for row in result.rows)
    rows = by_native(result)
    assert_row(
        rows["0G_USDC_PERP"],
        exchange="backpack",
        symbol="0G/USDC:USDC",
        base="0G",
        multiplier=1,
        quote="USDC",
        settle="USDC",
        contract_type="linear",
        funding_rate=-0.000179157,
        interval_hours=None,
        next_funding_time=SETTLEMENT,
        predicted_rate=None,
        mark_price=2.93637296,
        index_price=2.9405475,
        open_interest_usd=None,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=None,
        observed_at=OBSERVED,
    )
    assert_row(
        rows["AAVE_USDC_PERP"], symbol="AAVE/USDC:USDC", funding_rate=0.0000125, mark_price=285.78212281
    )
    assert_row(rows["ARB_USDC_PERP"], base="ARB", funding_rate=0.0000125, index_price=0.4441642)


def test_intervals_come_per_symbol_from_the_market_list_in_ms(marks) -> None:
    listing = [
        market("0G_USDC_PERP", HOUR_MS),
        market("AAVE_USDC_PERP", EIGHT_HOURS_MS),
        market("APT_USDC_PERP", "3600000"),
        market("AERO_USDC_PERP", None),
    ]
    rows = by_native(build(marks, listing))
    assert_row(
        rows["0G_USDC_PERP"],
        symbol="0G/USDC:USDC",
        funding_rate=-0.000179157,
        interval_hours=1,
        next_funding_time=SETTLEMENT,
        apr=-0.000179157 * 8760,
        flags=(),
    )
    assert_row(
        rows["AAVE_USDC_PERP"],
        funding_rate=0.0000125,
        interval_hours=8,
        apr=0.0000125 * 1095,
        mark_price=285.78212281,
        index_price=285.79854845,
        flags=(),
    )
    assert_row(rows["APT_USDC_PERP"], funding_rate=-0.000028398, interval_hours=1, flags=())
    assert_row(rows["AERO_USDC_PERP"], interval_hours=None, flags=("interval_unknown",))
    assert_row(rows["ARB_USDC_PERP"], interval_hours=None, flags=("interval_unknown", "unlisted"))


def test_july_2025_btc_element_with_an_8h_listing() -> None:
    (row,) = build(load_json("backpack", BTC), [market("BTC_USDC_PERP", EIGHT_HOURS_MS)]).rows
    assert_row(
        row,
        symbol="BTC/USDC:USDC",
        native_symbol="BTC_USDC_PERP",
        base="BTC",
        quote="USDC",
        settle="USDC",
        funding_rate=0.0001,
        interval_hours=8,
        next_funding_time=datetime(2025, 7, 21, 16, 0, tzinfo=UTC),  # 1753113600000
        mark_price=118343.51853741,
        index_price=118333.18643195,
        apr=0.0001 * 1095,
        observed_at=OBSERVED,
        flags=("stale",),  # settled before OBSERVED (October): kept, flagged
    )


def test_market_type_and_closed_books_filter_rows_missing_fields_keep_them(marks) -> None:
    listing = [market(m["symbol"]) for m in marks]
    listing[0]["marketType"] = "SPOT"
    listing[1]["orderBookState"] = "Closed"
    listing[2]["marketType"] = "DATED"
    del listing[3]["marketType"], listing[3]["orderBookState"]
    listing[4]["orderBookState"] = "CancelOnly"
    result = build(marks, listing)
    kept = [row.native_symbol for row in result.rows]
    assert kept == [m["symbol"] for m in marks[3:]]  # 0G (SPOT), 2Z (Closed), AAVE (DATED) dropped
    assert (len(result.rows), result.bad_rows) == (5, 0)
    assert all(row.flags == () and row.interval_hours == 1 for row in result.rows)


def test_wrong_shaped_or_empty_market_list_counts_as_failed(marks) -> None:
    for listing in ({"code": "x"}, [], "markets"):
        result = build(marks, listing)
        assert result.unusable == {"markets"}
        assert {row.flags for row in result.rows} == {("interval_unknown", "unfiltered")}


def test_malformed_rows_cost_only_themselves(marks) -> None:
    bad = copy.deepcopy(marks[:6])
    bad[0]["fundingRate"] = ""
    del bad[1]["fundingRate"]
    bad[2]["symbol"] = "AAVE_USDC"  # not a perpetual's name, and no list to say otherwise
    bad[3]["nextFundingTimestamp"] = "soon"
    bad[4]["markPrice"] = "n/a"
    result = build(bad)
    assert [row.native_symbol for row in result.rows] == ["APEX_USDC_PERP"]
    assert result.bad_rows == 5
    listing = [market("0G_USDC_PERP"), {"symbol": "2Z_USDC_PERP"}]  # one list row without its names
    with_list = build(marks[:2], listing)
    assert (len(with_list.rows), with_list.bad_rows) == (2, 1)
    assert by_native(with_list)["2Z_USDC_PERP"].flags == ("interval_unknown", "unlisted")


def test_settled_rows_are_kept_and_flagged_stale(marks) -> None:
    result = build(marks, [market(m["symbol"]) for m in marks], SETTLEMENT)
    assert len(result.rows) == 8
    assert {row.flags for row in result.rows} == {("stale",)}


@pytest.mark.parametrize("payload", [{"symbol": "BTC_USDC_PERP"}, "x", None, 3])
def test_non_array_is_bad_payload(payload) -> None:
    with pytest.raises(BadPayload):
        build(payload)


def test_empty_array_is_empty_payload() -> None:
    with pytest.raises(EmptyPayload):
        build([])


def test_envelope_error_objects(marks) -> None:
    check = backpack.check_envelope
    assert check("backpack", "markPrices", marks) is None
    with pytest.raises(RateLimited):
        check("backpack", "markPrices", {"code": "TOO_MANY_REQUESTS", "message": "slow down"})
    with pytest.raises(ExchangeError) as raised:
        check("backpack", "markPrices", {"code": "INVALID_CLIENT_REQUEST", "message": "bad symbol"})
    assert not isinstance(raised.value, RateLimited)
    assert "INVALID_CLIENT_REQUEST" in str(raised.value)


def test_one_cycle_through_the_simulator_without_a_markets_recording() -> None:
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            backpack.SPEC,
            RateGate(backpack.SPEC.id, backpack.SPEC.limits),
            base_urls={h: sim.venue_url(backpack.SPEC.id) for h in backpack.SPEC.hosts},
            retries=0,
        )
        payloads: dict[str, Any] = {}
        for endpoint in backpack.SPEC.endpoints:
            try:
                payloads[endpoint.name] = client.fetch(endpoint)
            except FetchError as exc:  # as the collector does for a list with no stored copy
                assert endpoint.role is Role.INSTRUMENTS and isinstance(exc, HttpClientError)
                payloads[endpoint.name] = None
        result = backpack.build_rows(payloads, OBSERVED)
        venue = sim.stats()["venues"]["backpack"]
    assert (venue["violations"], venue["requests"], venue["rejected"]) == (0, 2, 1)
    assert payloads["markets"] is None
    rows = by_native(result)
    assert len(rows) == 8
    assert_row(
        rows["ADA_USDC_PERP"],
        symbol="ADA/USDC:USDC",
        funding_rate=0.0000125,
        interval_hours=None,
        next_funding_time=SETTLEMENT,
        mark_price=0.85812097,
        flags=("interval_unknown", "unfiltered"),
    )


class FrozenClock:
    def __call__(self) -> float:
        return 100.0


def test_twenty_first_call_in_a_second_is_a_429_and_the_client_raises_rate_limited() -> None:
    with Simulator(latency_ms=0, clock=FrozenClock()) as sim:
        url = sim.venue_url("backpack") + "/api/v1/markPrices"
        answers = [requests.get(url, timeout=10) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        over = requests.get(url, timeout=10)
        assert (over.status_code, over.json()["code"]) == (429, "TOO_MANY_REQUESTS")
        client = VenueClient(
            backpack.SPEC,
            RateGate(backpack.SPEC.id, backpack.SPEC.limits),
            base_urls={"api": sim.venue_url("backpack")},
            retries=0,
        )
        with pytest.raises(RateLimited):
            client.fetch(backpack.SPEC.endpoint("markPrices"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
SYMBOLS = st.sampled_from(["BTC_USDC_PERP", "ARB_USDC_PERP", "BTC_USDC", "_USDC_PERP", "X"])
MARK = st.fixed_dictionaries(
    {},
    optional={
        "symbol": SYMBOLS | JSON,
        "fundingRate": st.sampled_from(["0.0000125", "", "nan", "1e400"]) | JSON,
        "nextFundingTimestamp": st.sampled_from([1759489200000, 0, 10**17, -(10**15)]) | JSON,
        "markPrice": st.sampled_from(["2.93637296", "x"]) | JSON,
        "indexPrice": JSON,
    },
)
MARKET = st.fixed_dictionaries(
    {},
    optional={
        "symbol": SYMBOLS | JSON,
        "baseSymbol": st.sampled_from(["BTC", "ARB", ""]) | JSON,
        "quoteSymbol": st.sampled_from(["USDC"]) | JSON,
        "marketType": st.sampled_from(["PERP", "SPOT", "IPERP"]) | JSON,
        "orderBookState": st.sampled_from(["Open", "Closed"]) | JSON,
        "fundingInterval": st.sampled_from([HOUR_MS, EIGHT_HOURS_MS, 0, -1, "3600000"]) | JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    marks=st.lists(MARK | JSON, max_size=6) | JSON,
    markets=st.lists(MARKET | JSON, max_size=6) | st.none() | JSON,
)
def test_arbitrary_rows_never_break_build_rows(marks: Any, markets: Any) -> None:
    try:
        result = build(marks, markets)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) <= len(marks)
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.contract_type == "linear"
        assert set(row.flags) <= set(FLAGS)
