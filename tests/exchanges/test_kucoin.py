"""KuCoin Futures adapter against the recorded `GET /api/v1/contracts/active` (2026-08-27T17:21:45Z, 44 of
~684 rows, number tokens as sent) and the recorded 429 body. Expected values are copied by hand."""

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
from funding_finder.exchanges import kucoin
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_bytes, load_json
from rows import assert_row

RECORDING = "api-v1-contracts-active__arb-chain-bot-20260827.trimmed.json"
OBSERVED = datetime(2026, 8, 27, 17, 21, 45, tzinfo=UTC)
"""Capture time (shared SOURCES.md); also nextFundingRateDateTime − nextFundingRateTime = 17:21:45.397Z."""
EIGHT_H = datetime(2026, 8, 28, 0, 0, tzinfo=UTC)  # nextFundingRateDateTime 1787875200000
FOUR_H = datetime(2026, 8, 27, 20, 0, tzinfo=UTC)  # nextFundingRateDateTime 1787860800000


@pytest.fixture
def recorded() -> dict[str, Any]:
    return load_json("kucoin", RECORDING)


@pytest.fixture
def rows(recorded: dict[str, Any]) -> dict[str, FundingRate]:
    result = kucoin.build_rows({"contracts-active": recorded}, OBSERVED)
    assert result.bad_rows == 0
    return {row.native_symbol: row for row in result.rows}


def build(payload: Any, observed_at: datetime = OBSERVED) -> dict[str, FundingRate]:
    return {r.native_symbol: r for r in kucoin.build_rows({"contracts-active": payload}, observed_at).rows}


def row_of(payload: dict[str, Any], symbol: str) -> dict[str, Any]:
    return next(r for r in payload["data"] if r["symbol"] == symbol)


def test_spec_is_one_bulk_call_weighing_3_of_the_public_pool() -> None:
    spec = kucoin.SPEC
    assert (spec.id, spec.hosts, spec.workers) == ("kucoin", {"api": "https://api-futures.kucoin.com"}, 1)
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.path, endpoint.method, endpoint.role, dict(endpoint.params)) == (
        "contracts-active",
        "/api/v1/contracts/active",
        "GET",
        Role.RATES,
        {},
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("public", 2000, 30.0, "ip")
    assert limit.cost_of("contracts-active") == 3


def test_xbt_8h_row_is_btc_with_the_epoch_settlement_not_the_countdown(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["XBTUSDTM"],
        exchange="kucoin",
        symbol="BTC/USDT:USDT",
        native_symbol="XBTUSDTM",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=-0.000021,
        interval_hours=8,  # fundingRateGranularity 28800000 ms
        next_funding_time=EIGHT_H,  # not OBSERVED + 23894603 ms, and never 1970-01-01T06:38Z
        predicted_rate=None,  # predictedFundingFeeRate null
        mark_price=80689.98,
        index_price=80732.29,
        open_interest_usd=20308707 * 0.001 * 80689.98,  # contracts × multiplier × mark
        volume_24h_usd=440861284.1368,  # turnoverOf24h
        asset_class="crypto",
        apr=-0.000021 * 1095,
        observed_at=OBSERVED,
        flags=(),
    )


def test_wif_4h_row(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["WIFUSDTM"],
        symbol="WIF/USDT:USDT",
        base="WIF",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.00005,  # token 0.000050
        interval_hours=4,  # 14400000 ms
        next_funding_time=FOUR_H,
        mark_price=0.2305,
        index_price=0.2306,
        open_interest_usd=4358358 * 10.0 * 0.2305,
        volume_24h_usd=7696189.178,
        apr=0.00005 * 2190,
        flags=(),
    )


def test_usdm_inverse_row_counts_usd_contracts(rows: dict[str, FundingRate]) -> None:
    eth = rows["ETHUSDM"]
    assert_row(
        eth,
        symbol="ETH/USD:ETH",
        base="ETH",
        quote="USD",
        settle="ETH",
        contract_type="inverse",
        funding_rate=0.0001,
        interval_hours=8,
        next_funding_time=EIGHT_H,
        mark_price=2525.54,
        index_price=2528.31,
        open_interest_usd=42700926.0,  # openInterest × |multiplier -1.0| USD
        volume_24h_usd=740954.0,  # volumeOf24h, USD contracts
        flags=(),
    )
    assert eth.volume_24h_usd == pytest.approx(294.27016697 * 2525.54, rel=0.01)  # turnover ETH × mark
    assert_row(rows["SOLUSDM"], symbol="SOL/USD:SOL", contract_type="inverse", open_interest_usd=9401529.0)


def test_usdc_and_nasdaq_rows(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["ETHUSDCM"],
        symbol="ETH/USDC:USDC",
        quote="USDC",
        settle="USDC",
        contract_type="linear",
        funding_rate=0.0001,
        open_interest_usd=1825003 * 0.001 * 2527.85,
        volume_24h_usd=323219.20174,
    )
    assert_row(
        rows["SKHYNIXUSDTM"],
        symbol="SKHYNIX/USDT:USDT",
        base="SKHYNIX",
        asset_class="equity",  # marketType NASDAQ
        funding_rate=0.00005,
        interval_hours=4,
        mark_price=1234.01,
    )
    equities = sorted(n for n, row in rows.items() if row.asset_class == "equity")
    assert equities == ["SKHYNIXUSDTM", "SNDKUSDTM", "SOXLUSDTM"]


def test_interval_falls_back_to_the_current_granularity_only_when_needed(
    recorded: dict[str, Any], rows: dict[str, FundingRate]
) -> None:
    assert row_of(recorded, "DOGEUSDTM")["currentFundingRateGranularity"] is None
    assert rows["DOGEUSDTM"].interval_hours == 8  # fundingRateGranularity 28800000
    doge = row_of(recorded, "DOGEUSDTM")
    doge["fundingRateGranularity"], doge["currentFundingRateGranularity"] = None, 14400000
    assert build(recorded)["DOGEUSDTM"].interval_hours == 4


def test_every_recorded_contract_is_kept_with_both_intervals(rows: dict[str, FundingRate]) -> None:
    assert len(rows) == 44
    hours = [row.interval_hours for row in rows.values()]
    assert (hours.count(8), hours.count(4)) == (26, 18)
    assert [n for n, row in rows.items() if row.contract_type == "inverse"] == ["ETHUSDM", "SOLUSDM"]
    assert all(row.flags == () for row in rows.values())


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"status": "Paused"}, "status"), ({"status": "BeingSettled"}, "status"), ({"type": "FFICSX"}, "dated")],
)
def test_contracts_not_open_or_not_perpetual_are_dropped_not_counted_bad(
    recorded: dict[str, Any], change: dict[str, Any], reason: str
) -> None:
    row_of(recorded, "XBTUSDTM").update(change)
    result = kucoin.build_rows({"contracts-active": recorded}, OBSERVED)
    assert "XBTUSDTM" not in {r.native_symbol for r in result.rows}, reason
    assert (len(result.rows), result.bad_rows) == (43, 0)


def test_rows_without_status_or_type_are_kept(recorded: dict[str, Any]) -> None:
    xbt = row_of(recorded, "XBTUSDTM")
    del xbt["status"], xbt["type"]
    assert build(recorded)["XBTUSDTM"].funding_rate == -0.000021


def test_settled_rows_are_kept_and_flagged_stale(recorded: dict[str, Any]) -> None:
    rows = build(recorded, FOUR_H)
    assert len(rows) == 44
    stale = {name for name, row in rows.items() if "stale" in row.flags}
    assert len(stale) == 18 and all(rows[name].interval_hours == 4 for name in stale)


def test_rate_beyond_the_contract_cap_is_flagged_implausible(recorded: dict[str, Any]) -> None:
    row_of(recorded, "XBTUSDTM")["fundingFeeRate"] = -0.0031  # floor -0.003
    row_of(recorded, "WIFUSDTM")["fundingFeeRate"] = 0.02  # exactly at its cap 0.02
    rows = build(recorded)
    assert rows["XBTUSDTM"].flags == ("implausible_rate",)
    assert rows["WIFUSDTM"].flags == ()


def test_missing_interval_and_settlement_are_unknown_not_invented(recorded: dict[str, Any]) -> None:
    xbt = row_of(recorded, "XBTUSDTM")
    xbt["fundingRateGranularity"] = xbt["currentFundingRateGranularity"] = None
    xbt["nextFundingRateDateTime"] = None  # the countdown nextFundingRateTime is still there
    row = build(recorded)["XBTUSDTM"]
    assert (row.interval_hours, row.next_funding_time, row.apr) == (None, None, None)
    assert row.flags == ("interval_unknown",)


def test_malformed_rows_cost_only_themselves(recorded: dict[str, Any]) -> None:
    data = recorded["data"]
    data[0]["fundingFeeRate"] = None
    del data[1]["symbol"]
    data[2]["nextFundingRateDateTime"] = "soon"
    data[3]["markPrice"] = "n/a"
    result = kucoin.build_rows({"contracts-active": recorded}, OBSERVED)
    assert (len(result.rows), result.bad_rows) == (40, 4)
    assert "XBTUSDTM" not in {r.native_symbol for r in result.rows}


def test_wrong_shapes_and_empty_lists() -> None:
    with pytest.raises(BadPayload):
        build({"code": "200000", "data": {"symbol": "XBTUSDTM"}})
    with pytest.raises(BadPayload):
        build({"code": "200000"})
    with pytest.raises(BadPayload):
        build([{"symbol": "XBTUSDTM"}])
    with pytest.raises(EmptyPayload):
        build({"code": "200000", "data": []})


def test_envelope_codes(recorded: dict[str, Any]) -> None:
    check = kucoin.SPEC.check_envelope
    assert check("kucoin", "contracts-active", recorded) is None
    with pytest.raises(RateLimited):
        check("kucoin", "contracts-active", load_json("kucoin", "429.real-2022.json"))
    with pytest.raises(ExchangeError) as raised:
        check("kucoin", "contracts-active", {"code": "400100", "msg": "Parameter error"})
    assert not isinstance(raised.value, RateLimited)
    assert "400100" in str(raised.value) and "Parameter error" in str(raised.value)
    with pytest.raises(BadPayload):
        check("kucoin", "contracts-active", {"data": []})


# -- through the simulator -----------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_for(sim: Any, **kwargs: Any) -> VenueClient:
    spec = kucoin.SPEC
    base_urls = {h: sim.venue_url(spec.id) for h in spec.hosts}
    return VenueClient(spec, RateGate(spec.id, spec.limits), base_urls=base_urls, **kwargs)


def test_one_cycle_through_the_simulator_stays_within_limits() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0) as sim:
        client = client_for(sim)
        payloads = {e.name: client.fetch(e) for e in kucoin.SPEC.endpoints}
        result = kucoin.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"]["kucoin"]["violations"] == 0
    rows = {row.native_symbol: row for row in result.rows}
    assert len(rows) == 44
    assert (rows["XBTUSDTM"].symbol, rows["XBTUSDTM"].funding_rate) == ("BTC/USDT:USDT", -0.000021)


def test_the_667th_call_in_30_s_is_the_recorded_429_the_client_reports_as_rate_limited() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0, clock=FakeClock()) as sim:
        url = sim.venue_url("kucoin") + "/api/v1/contracts/active"
        with requests.Session() as session:
            answers = [session.get(url, timeout=10).status_code for _ in range(667)]
        assert answers == [200] * 666 + [429]  # 666 × weight 3 = 1998 of 2000
        over = requests.get(url, timeout=10)
        assert (over.status_code, over.content) == (429, load_bytes("kucoin", "429.real-2022.json"))
        with pytest.raises(RateLimited):
            client_for(sim, retries=0).fetch(kucoin.SPEC.endpoint("contracts-active"))
        assert sim.stats()["venues"]["kucoin"]["violations"] == 3


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
    "symbol": ["XBTUSDTM", "ETHUSDM", "ETHUSDCM"],
    "baseCurrency": ["XBT", "ETH", "1000PEPE"],
    "quoteCurrency": ["USDT", "USD", "USDC"],
    "settleCurrency": ["USDT", "ETH"],
    "isInverse": [False, True],
    "status": ["Open"],
    "type": ["FFWCSX"],
    "marketType": ["CRYPTO", "NASDAQ"],
    "fundingFeeRate": [-0.000021, 0.0001, 0.0],
    "predictedFundingFeeRate": [None, 0.0001],
    "fundingRateGranularity": [28800000, 14400000, 3600000],
    "currentFundingRateGranularity": [28800000, None],
    "nextFundingRateDateTime": [1787875200000, 1787860800000],
    "markPrice": [80689.98, 3.9465e-06],
    "indexPrice": [80732.29],
    "openInterest": ["20308707", "42700926"],
    "multiplier": [0.001, -1.0, 520000.0],
    "turnoverOf24h": [440861284.1368],
    "volumeOf24h": [740954.0, 5.3381016e12],
    "fundingRateCap": [0.003, 0.02],
    "fundingRateFloor": [-0.003],
}
"""Recorded-looking values, drawn far more often than the traps and arbitrary JSON."""
TRAPS: dict[str, list[Any]] = {
    "symbol": ["", None],
    "baseCurrency": ["", 3],
    "quoteCurrency": [""],
    "settleCurrency": [None],
    "isInverse": ["true", None],
    "status": ["Paused", None],
    "type": ["FFICSX", ""],
    "marketType": [None, 7],
    "fundingFeeRate": [None, "", "nan", 1e400, True],
    "predictedFundingFeeRate": ["x", float("inf")],
    "fundingRateGranularity": [0, -28800000, "8h"],
    "currentFundingRateGranularity": [0, ""],
    "nextFundingRateDateTime": [23894603, 10**17, -(10**17), 2**70, "soon"],
    "markPrice": ["", "abc"],
    "indexPrice": [None, "inf"],
    "openInterest": ["", "many"],
    "multiplier": [None, "x"],
    "turnoverOf24h": [None, "x"],
    "volumeOf24h": [None, "x"],
    "fundingRateCap": [None, "x"],
    "fundingRateFloor": [None, "x"],
}


def mostly(likely: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`likely` eight times as often as each of `others` (one_of would merge repeated branches)."""
    return st.sampled_from([likely] * 8 + list(others)).flatmap(lambda strategy: strategy)


FULL_ROW = st.fixed_dictionaries(
    {key: mostly(st.sampled_from(GOOD[key]), st.sampled_from(TRAPS[key]), JSON) for key in GOOD}
)
PARTIAL_ROW = st.fixed_dictionaries({}, optional={key: JSON for key in GOOD})
ROWS = st.lists(mostly(FULL_ROW, PARTIAL_ROW, JSON), min_size=1, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=mostly(st.fixed_dictionaries({"code": st.just("200000"), "data": ROWS}), JSON))
def test_arbitrary_rows_never_break_build_rows(payload: Any) -> None:
    try:
        result = kucoin.build_rows({"contracts-active": copy.deepcopy(payload)}, OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) + result.bad_rows <= len(payload["data"])
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.contract_type in ("linear", "inverse")
        assert row.base != "XBT"
        assert set(row.flags) <= set(FLAGS)
