"""BingX swap v2 premiumIndex: the 2026-08-27 bulk recording (23 rows) and the 2023 docs example.
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

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import bingx
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_bytes, load_json
from rows import assert_row, by_native

RECORDING = "openApi-swap-v2-quote-premiumIndex__arb-chain-bot-20260827.trimmed.json"
DOCS_2023 = "premiumIndex.docs-example-2023.json"
OBSERVED = datetime(2026, 8, 27, 16, 39, 29, tzinfo=UTC)
"""The body has no capture time; the same recorder's same-day bodies are stamped 16:39:29Z (shared
SOURCES.md), and every row's `updateTime` 1787846400000 (16:00Z) precedes it."""
SETTLEMENT = datetime(2026, 8, 28, 0, 0, tzinfo=UTC)  # nextFundingTime 1787875200000 of every row


@pytest.fixture
def recorded() -> dict[str, Any]:
    return load_json("bingx", RECORDING)


def build(payload: Any, observed_at: datetime = OBSERVED):
    return bingx.build_rows({"premiumIndex": payload}, observed_at)


def envelope(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"code": 0, "msg": "", "data": list(rows)}


def row_of(payload: dict[str, Any], symbol: str) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in payload["data"] if r["symbol"] == symbol))


def test_spec_is_one_bulk_call_under_the_group1_limit() -> None:
    spec = bingx.SPEC
    assert (spec.id, spec.hosts) == ("bingx", {"api": "https://open-api.bingx.com"})
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.path, endpoint.method, endpoint.role, dict(endpoint.params)) == (
        "premiumIndex",
        "/openApi/swap/v2/quote/premiumIndex",
        "GET",
        Role.RATES,
        {},
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("group1", 10, 1.0, "ip")
    assert limit.cost_of("premiumIndex") == 1
    assert spec.workers == 1


def test_btc_row_field_by_field(recorded: dict[str, Any]) -> None:
    assert_row(
        by_native(build(recorded))["BTC-USDT"],
        exchange="bingx",
        symbol="BTC/USDT:USDT",
        native_symbol="BTC-USDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=-0.000034,
        interval_hours=8,
        next_funding_time=SETTLEMENT,
        predicted_rate=None,
        mark_price=80114.1,
        index_price=80150.0,
        open_interest_usd=None,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=-0.000034 * 1095,
        observed_at=OBSERVED,
        flags=(),
    )


def test_eth_and_atom_rows(recorded: dict[str, Any]) -> None:
    rows = by_native(build(recorded))
    assert_row(
        rows["ETH-USDT"],
        symbol="ETH/USDT:USDT",
        base="ETH",
        quote="USDT",
        settle="USDT",
        funding_rate=0.000028,
        interval_hours=8,
        next_funding_time=SETTLEMENT,
        mark_price=2505.28,
        index_price=2506.41,
        apr=0.000028 * 1095,
        flags=(),
    )
    assert_row(
        rows["ATOM-USDT"],
        symbol="ATOM/USDT:USDT",
        base="ATOM",
        multiplier=1,
        contract_type="linear",
        funding_rate=-0.000064,
        interval_hours=8,
        mark_price=1.528,
        index_price=1.530,
        asset_class="crypto",
        flags=(),
    )
    assert_row(rows["SUI-USDT"], funding_rate=0.0001, mark_price=0.7785, index_price=0.7789)


def test_rate_beyond_the_contracts_recorded_cap_is_flagged_implausible(recorded: dict[str, Any]) -> None:
    # Recorded BTC-USDT: lastFundingRate "-0.00003400" inside maxFundingRate "0.003000" / minFundingRate
    # "-0.003000" (8 h, far below the 4 %/h sanity bound: only the recorded cap can flag it).
    assert by_native(build(recorded))["BTC-USDT"].flags == ()

    def btc_flags(rate: str) -> tuple[str, ...]:
        (row,) = build(envelope(row_of(recorded, "BTC-USDT") | {"lastFundingRate": rate})).rows
        return row.flags

    assert btc_flags("0.003000") == btc_flags("-0.003000") == ()  # exactly at the cap and the floor
    assert btc_flags("0.0030001") == ("implausible_rate",)
    assert btc_flags("-0.0030001") == ("implausible_rate",)


def test_docs_2023_form_has_no_cap_and_an_unreadable_cap_costs_nothing(recorded: dict[str, Any]) -> None:
    docs = load_json("bingx", DOCS_2023)
    docs["data"][0]["lastFundingRate"] = "0.0031"  # no maxFundingRate / minFundingRate in that form
    assert "implausible_rate" not in build(docs, datetime(2022, 12, 26, tzinfo=UTC)).rows[0].flags
    btc = row_of(recorded, "BTC-USDT") | {"lastFundingRate": "0.0031", "maxFundingRate": "-"}
    result = build(envelope(btc))
    assert (result.bad_rows, result.rows[0].flags) == (0, ("implausible_rate",))  # the floor bounds it


def test_every_recorded_row_is_kept_and_every_interval_is_8h(recorded: dict[str, Any]) -> None:
    result = build(recorded)
    assert len(recorded["data"]) == 23
    assert (len(result.rows), result.bad_rows) == (23, 0)
    assert [row.native_symbol for row in result.rows] == [r["symbol"] for r in recorded["data"]]
    assert {row.interval_hours for row in result.rows} == {8}
    assert all(row.flags == () for row in result.rows)


def test_multiplier_prefixed_symbol_keeps_its_listing() -> None:
    pepe = row_of(load_json("bingx", RECORDING), "DOGE-USDT") | {"symbol": "1000PEPE-USDT"}
    (row,) = build(envelope(pepe)).rows
    assert_row(row, symbol="1000PEPE/USDT:USDT", base="PEPE", multiplier=1000, quote="USDT")


def test_docs_2023_form_without_interval_is_unknown_and_old_times_are_stale() -> None:
    result = build(load_json("bingx", DOCS_2023))
    rows = by_native(result)
    assert (len(result.rows), result.bad_rows) == (2, 0)
    assert_row(
        rows["BTC-USDT"],
        symbol="BTC/USDT:USDT",
        funding_rate=0.0001,
        interval_hours=None,
        apr=None,
        next_funding_time=datetime(2022, 12, 26, 8, 0, tzinfo=UTC),  # 1672041600000 ms
        mark_price=16884.5,
        index_price=16886.9,
        flags=("interval_unknown", "stale"),
    )
    assert rows["ETH-USDT"].funding_rate == -0.0001


def test_settled_rows_are_kept_and_flagged_stale(recorded: dict[str, Any]) -> None:
    result = build(recorded, SETTLEMENT)
    assert len(result.rows) == 23
    assert all(row.flags == ("stale",) for row in result.rows)


def test_malformed_rows_cost_only_themselves(recorded: dict[str, Any]) -> None:
    empty_rate = row_of(recorded, "BTC-USDT") | {"lastFundingRate": ""}
    no_dash = row_of(recorded, "ETH-USDT") | {"symbol": "ETHUSDT"}
    text_time = row_of(recorded, "LINK-USDT") | {"nextFundingTime": "soon"}
    missing = row_of(recorded, "BCH-USDT")
    del missing["lastFundingRate"]
    good = row_of(recorded, "ADA-USDT")
    result = build(envelope(empty_rate, no_dash, text_time, missing, good))
    assert [(r.native_symbol, r.funding_rate) for r in result.rows] == [("ADA-USDT", 0.0001)]
    assert result.bad_rows == 4


@pytest.mark.parametrize("hours", [0, -8, "", None])
def test_unusable_interval_is_unknown_not_defaulted(recorded: dict[str, Any], hours: Any) -> None:
    (row,) = build(envelope(row_of(recorded, "BTC-USDT") | {"fundingIntervalHours": hours})).rows
    assert (row.interval_hours, row.apr, row.flags) == (None, None, ("interval_unknown",))


def test_wrong_shapes_and_empty_lists(recorded: dict[str, Any]) -> None:
    single = {"code": 0, "msg": "", "data": row_of(recorded, "BTC-USDT")}  # the one-symbol form
    for bad in (single, recorded["data"], {"code": 0, "msg": ""}, None):
        with pytest.raises(BadPayload):
            build(bad)
    with pytest.raises(EmptyPayload):
        build(envelope())


def test_envelope_codes(recorded: dict[str, Any]) -> None:
    check = bingx.SPEC.check_envelope
    assert check("bingx", "premiumIndex", recorded) is None
    with pytest.raises(RateLimited):
        check("bingx", "premiumIndex", {"code": 100410, "msg": "rate limited"})
    with pytest.raises(ExchangeError) as raised:
        check("bingx", "premiumIndex", {"code": 109400, "msg": "symbol not exist"})
    assert not isinstance(raised.value, RateLimited)
    assert "109400" in str(raised.value)
    with pytest.raises(BadPayload):
        check("bingx", "premiumIndex", {"msg": "", "data": []})


# -- through the simulator -----------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_for(sim: Any, **kwargs: Any) -> VenueClient:
    spec = bingx.SPEC
    base_urls = {h: sim.venue_url(spec.id) for h in spec.hosts}
    return VenueClient(spec, RateGate(spec.id, spec.limits), base_urls=base_urls, **kwargs)


def test_one_cycle_through_the_simulator_stays_within_limits() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0) as sim:
        client = client_for(sim)
        payloads = {e.name: client.fetch(e) for e in bingx.SPEC.endpoints}
        result = bingx.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"]["bingx"]["violations"] == 0
    assert len(result.rows) == 23
    assert by_native(result)["SOL-USDT"].funding_rate == -0.000021


def test_crossing_the_simulated_limit_is_a_429_the_client_reports_as_rate_limited() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0, clock=FakeClock()) as sim:
        url = sim.venue_url("bingx") + "/openApi/swap/v2/quote/premiumIndex"
        answers = [requests.get(url, timeout=10) for _ in range(11)]
        assert [a.status_code for a in answers] == [200] * 10 + [429]
        assert answers[0].content == load_bytes("bingx", RECORDING)
        assert answers[-1].json() == {"code": 100410, "msg": "rate limited"}
        with pytest.raises(RateLimited):
            client_for(sim, retries=0).fetch(bingx.SPEC.endpoint("premiumIndex"))
        assert sim.stats()["venues"]["bingx"]["violations"] == 2


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
    "symbol": ["BTC-USDT", "1000PEPE-USDT", "ETH-USDC"],
    "lastFundingRate": ["-0.00003400", "0.00010000", 0.0001],
    "nextFundingTime": [1787875200000, "1787875200000"],
    "fundingIntervalHours": [8, 4, 1, "8"],
    "markPrice": ["80114.1", None],
    "indexPrice": ["80150.0"],
}
TRAPS: dict[str, list[Any]] = {
    "symbol": ["BTCUSDT", "-USDT", "BTC-", ""],
    "lastFundingRate": ["", "nan", "1e400", True],
    "nextFundingTime": [0, "soon", 10**17, -(10**17), 2**70],
    "fundingIntervalHours": [0, -8, ""],
    "markPrice": ["", "abc", "inf"],
    "indexPrice": [""],
}


def mostly(likely: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`likely` eight times as often as each of `others`."""
    return st.sampled_from([likely] * 8 + list(others)).flatmap(lambda strategy: strategy)


ROW = mostly(
    st.fixed_dictionaries(
        {key: mostly(st.sampled_from(GOOD[key]), st.sampled_from(TRAPS[key]), JSON) for key in GOOD}
    ),
    st.fixed_dictionaries({}, optional={key: JSON for key in GOOD}),
    JSON,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=mostly(st.fixed_dictionaries({"code": st.just(0), "data": st.lists(ROW, max_size=6)}), JSON))
def test_arbitrary_rows_never_break_build_rows(payload: Any) -> None:
    try:
        result = build(payload)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) + result.bad_rows == len(payload["data"])  # no row is dropped on purpose
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.next_funding_time is None or row.next_funding_time.tzinfo is not None
        assert set(row.flags) <= set(FLAGS)
