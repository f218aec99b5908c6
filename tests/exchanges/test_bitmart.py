"""BitMart futures v2 details: the 2026-08-27 bulk recording (16 contracts, 2 delisted, 1 coin-margined), the
same day's funding-rate list (current vs settled rates) and the 2024 single-row schema.
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

from funding_finder.errors import BadPayload, Banned, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import bitmart
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_bytes, load_json
from rows import assert_row, by_native

DETAILS = "contract-public-details__arb-chain-bot-20260827.trimmed.json"
FUNDING_LIST = "contract-public-funding-rate-v2__arb-chain-bot-20260827.trimmed.json"
DETAILS_2024 = "contract-public-details.json"
OBSERVED = datetime(2026, 8, 27, 19, 3, 25, tzinfo=UTC)
"""The details body has no timestamp; the same day's funding-rate list is stamped 1787857405999 (19:03:25Z)
and carries the same current rates (BTC 0.0000944, ETH 0.0000298, AAVE 0.0000799), so the same moment."""
SETTLEMENT = datetime(2026, 8, 28, 0, 0, tzinfo=UTC)  # funding_time 1787875200000 ms of every row
OBSERVED_2024 = datetime(2024, 9, 20, 0, 0, tzinfo=UTC)  # capture date (shared SOURCES.md), start of day


@pytest.fixture
def details() -> dict[str, Any]:
    return load_json("bitmart", DETAILS)


def build(payload: Any, observed_at: datetime = OBSERVED):
    return bitmart.build_rows({"details": payload}, observed_at)


def envelope(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"code": 1000, "message": "Ok", "data": {"symbols": list(rows)}}


def contract(payload: dict[str, Any], symbol: str, **changes: Any) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in payload["data"]["symbols"] if r["symbol"] == symbol)) | changes


def test_spec_is_one_details_call_under_12_per_2_s() -> None:
    spec = bitmart.SPEC
    assert (spec.id, spec.hosts) == ("bitmart", {"api": "https://api-cloud-v2.bitmart.com"})
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.path, endpoint.method, endpoint.role, dict(endpoint.params)) == (
        "details",
        "/contract/public/details",
        "GET",
        Role.RATES,
        {},
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("public", 12, 2.0, "endpoint")
    assert limit.cost_of("details") == 1
    assert spec.workers == 1


def test_btc_linear_row_field_by_field(details: dict[str, Any]) -> None:
    assert_row(
        by_native(build(details))["BTCUSDT"],
        exchange="bitmart",
        symbol="BTC/USDT:USDT",
        native_symbol="BTCUSDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0000944,  # expected_funding_rate, not funding_rate 0.0000601
        interval_hours=8,
        next_funding_time=SETTLEMENT,
        predicted_rate=None,
        mark_price=None,
        index_price=80153.31565217,
        open_interest_usd=146336048.47678677,
        volume_24h_usd=6130326453.7636,
        asset_class="crypto",
        apr=0.0000944 * 1095,
        observed_at=OBSERVED,
        flags=(),
    )


def test_eth_and_atom_rows(details: dict[str, Any]) -> None:
    rows = by_native(build(details))
    assert_row(
        rows["ETHUSDT"],
        symbol="ETH/USDT:USDT",
        base="ETH",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0000298,
        interval_hours=8,
        next_funding_time=SETTLEMENT,
        index_price=2507.15534884,
        open_interest_usd=37512975.74286687,
        volume_24h_usd=3535621905.92256,
        flags=(),
    )
    assert_row(rows["ATOMUSDT"], funding_rate=-0.0003037, index_price=1.53081143, apr=-0.0003037 * 1095)


def test_coin_margined_btcusd_is_inverse_with_usd_from_contracts(details: dict[str, Any]) -> None:
    assert_row(
        by_native(build(details))["BTCUSD"],
        symbol="BTC/USD:BTC",
        native_symbol="BTCUSD",
        base="BTC",
        multiplier=1,
        quote="USD",
        settle="BTC",
        contract_type="inverse",
        funding_rate=0.0000101,
        interval_hours=8,
        next_funding_time=SETTLEMENT,
        mark_price=None,
        index_price=80158.72995676,
        open_interest_usd=5692230 * 100,  # contracts × 100 USD; open_interest_value 7537.36 is in BTC
        volume_24h_usd=1986270 * 100,  # turnover_24h 2503.92 is in BTC
        flags=(),
    )


def test_delisted_rows_are_dropped_and_a_set_delist_time_is_not_a_filter(details: dict[str, Any]) -> None:
    result = build(details)
    rows = by_native(result)
    assert len(details["data"]["symbols"]) == 16
    assert (len(result.rows), result.bad_rows) == (14, 0)
    assert "CKBUSDT" not in rows and "QTUMUSDT" not in rows  # status Delisted
    assert_row(rows["ARBUSDT"], funding_rate=-0.0000242, interval_hours=8, volume_24h_usd=0.0, flags=())
    assert {row.interval_hours for row in result.rows} == {8}


def test_delist_time_is_read_in_seconds_and_zero_means_none(details: dict[str, Any]) -> None:
    parsed = {c.symbol: c for c in bitmart.parse_details(details).items}
    assert parsed["ARBUSDT"].delist_at == datetime(2026, 7, 25, 10, 0, tzinfo=UTC)  # 1784973600 s
    assert parsed["BTCUSDT"].delist_at is None  # delist_time 0
    assert parsed["BTCUSDT"].next_funding_time == SETTLEMENT  # funding_time in ms, same object
    trading_ckb = contract(details, "CKBUSDT", status="Trading")
    (ckb,) = bitmart.parse_details(envelope(trading_ckb)).items
    assert ckb.delist_at == datetime(2026, 7, 25, 8, 21, 6, tzinfo=UTC)  # 1784967666 s


def test_current_rate_matches_the_lists_expected_rate_never_the_settled_one(details: dict[str, Any]) -> None:
    listed = load_json("bitmart", FUNDING_LIST)["data"]["list"]
    rows = by_native(build(details))
    assert len(listed) == 12
    for item in listed:
        row = rows[item["symbol"]]
        assert row.funding_rate == float(item["expected_rate"]), item["symbol"]
        assert row.next_funding_time == SETTLEMENT
    btc = next(i for i in listed if i["symbol"] == "BTCUSDT")
    assert float(btc["rate_value"]) == 0.000060102133 != rows["BTCUSDT"].funding_rate


def test_2024_schema_without_status_or_interval_is_kept_with_unknown_interval() -> None:
    (row,) = build(load_json("bitmart", DETAILS_2024), OBSERVED_2024).rows
    assert_row(
        row,
        symbol="BTC/USDT:USDT",
        funding_rate=-0.0000035,
        interval_hours=None,
        apr=None,
        next_funding_time=datetime(2024, 9, 20, 8, 0, tzinfo=UTC),  # 1726819200000 ms
        index_price=63587.85404255,
        open_interest_usd=17555316.9355496,
        volume_24h_usd=7004836342.6944,
        flags=("interval_unknown",),
    )


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        ({"product_type": 2}, False),  # dated future
        ({"status": "Delisted"}, False),
        ({"status": "Paused"}, False),
        ({"product_type": None}, True),  # unknown: kept
    ],
)
def test_type_and_status_filters(details: dict[str, Any], change: dict[str, Any], kept: bool) -> None:
    result = build(envelope(contract(details, "ETHUSDT", **change)))
    assert (len(result.rows), result.bad_rows) == (int(kept), 0)


def test_missing_status_is_unknown_and_kept(details: dict[str, Any]) -> None:
    row = contract(details, "ETHUSDT")
    del row["status"]
    assert build(envelope(row)).rows[0].funding_rate == 0.0000298


def test_tradfi_market_group_sets_the_asset_class(details: dict[str, Any]) -> None:
    groups = {"US_MARKET": "equity", "HK_STOCK": "equity", "INDEX_JP": "index", "METAL_LME": "commodity"}
    groups |= {"COMMODITY_CME": "commodity", "FOREX": "crypto"}
    for group, asset_class in groups.items():
        row = contract(details, "ETHUSDT", tradfi_info={"market_group": group})
        assert build(envelope(row)).rows[0].asset_class == asset_class, group


def test_settled_rows_are_kept_and_flagged_stale(details: dict[str, Any]) -> None:
    result = build(details, SETTLEMENT)
    assert len(result.rows) == 14 and all(row.flags == ("stale",) for row in result.rows)


def test_malformed_rows_cost_only_themselves(details: dict[str, Any]) -> None:
    rows = [
        contract(details, "BTCUSDT", expected_funding_rate=""),
        contract(details, "ETHUSDT", funding_time="soon"),
        contract(details, "ADAUSDT", base_currency=None),
        contract(details, "DOTUSDT", open_interest_value="n/a"),
        contract(details, "FILUSDT", delist_time="never"),  # unreadable: unknown, not a bad row
        contract(details, "AVAXUSDT", funding_interval_hours=0),  # not positive: unknown
    ]
    result = build(envelope(*rows))
    assert [r.native_symbol for r in result.rows] == ["FILUSDT", "AVAXUSDT"]
    assert result.bad_rows == 4
    assert by_native(result)["AVAXUSDT"].flags == ("interval_unknown",)


def test_wrong_shapes_and_empty_lists(details: dict[str, Any]) -> None:
    for bad in ({"code": 1000, "data": {}}, details["data"], {"code": 1000, "data": {"symbols": {}}}, None):
        with pytest.raises(BadPayload):
            build(bad)
    with pytest.raises(EmptyPayload):
        build(envelope())


def test_envelope_codes(details: dict[str, Any]) -> None:
    check = bitmart.SPEC.check_envelope
    assert check("bitmart", "details", details) is None
    with pytest.raises(RateLimited):
        check("bitmart", "details", {"code": 30013, "message": "Request too many requests"})
    with pytest.raises(Banned):
        check("bitmart", "details", {"code": 30017, "message": "temporarily rejected"})
    with pytest.raises(ExchangeError) as raised:
        check("bitmart", "details", {"code": 30016, "message": "Service maintenance"})
    assert not isinstance(raised.value, RateLimited | Banned) and "30016" in str(raised.value)
    with pytest.raises(BadPayload):
        check("bitmart", "details", {"message": "Ok", "data": {}})


# -- through the simulator -----------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_for(sim: Any, **kwargs: Any) -> VenueClient:
    spec = bitmart.SPEC
    base_urls = {h: sim.venue_url(spec.id) for h in spec.hosts}
    return VenueClient(spec, RateGate(spec.id, spec.limits), base_urls=base_urls, **kwargs)


def test_one_cycle_through_the_simulator_stays_within_limits() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0) as sim:
        client = client_for(sim)
        payloads = {e.name: client.fetch(e) for e in bitmart.SPEC.endpoints}
        result = bitmart.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"]["bitmart"]["violations"] == 0
    assert len(result.rows) == 14
    assert by_native(result)["BTCUSD"].contract_type == "inverse"


def test_crossing_the_simulated_limit_is_a_429_the_client_reports_as_rate_limited() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0, clock=FakeClock()) as sim:
        url = sim.venue_url("bitmart") + "/contract/public/details"
        answers = [requests.get(url, timeout=10) for _ in range(13)]
        assert [a.status_code for a in answers] == [200] * 12 + [429]
        assert answers[0].content == load_bytes("bitmart", DETAILS)
        assert answers[-1].json() == {"code": 30013, "message": "Request too many requests"}
        with pytest.raises(RateLimited):
            client_for(sim, retries=0).fetch(bitmart.SPEC.endpoint("details"))


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
    "symbol": ["BTCUSDT", "BTCUSD"],
    "product_type": [1],
    "status": ["Trading"],
    "base_currency": ["BTC"],
    "quote_currency": ["USDT", "USD", "USDC"],
    "expected_funding_rate": ["0.0000944", "-0.0003037"],
    "funding_time": [1787875200000],
    "funding_interval_hours": [8, 4, 1],
    "delist_time": [0, 1784973600],
    "index_price": ["80153.31565217"],
    "contract_size": ["0.001", "100"],
    "open_interest": ["1937757"],
    "open_interest_value": ["146336048.47678677"],
    "volume_24h": ["77009032"],
    "turnover_24h": ["6130326453.7636"],
    "tradfi_info": [None, {"market_group": "US_MARKET"}],
}
TRAPS: dict[str, list[Any]] = {
    "symbol": [""],
    "product_type": [2, "1"],
    "status": ["Delisted", None],
    "base_currency": ["", None],
    "quote_currency": [""],
    "expected_funding_rate": ["", "nan", "1e400", True],
    "funding_time": [0, "soon", 10**17, -(10**17), 2**70],
    "funding_interval_hours": [0, -8, ""],
    "delist_time": [10**17, "x", -(2**70)],
    "index_price": ["", "inf"],
    "contract_size": ["", "abc"],
    "open_interest": ["x"],
    "open_interest_value": [""],
    "volume_24h": ["nan"],
    "turnover_24h": ["1e400"],
    "tradfi_info": [{"market_group": 3}, "x"],
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
@given(
    payload=mostly(
        st.fixed_dictionaries(
            {"code": st.just(1000), "data": st.fixed_dictionaries({"symbols": st.lists(ROW)})}
        ),
        JSON,
    )
)
def test_arbitrary_rows_never_break_build_rows(payload: Any) -> None:
    try:
        result = build(payload)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) + result.bad_rows <= len(payload["data"]["symbols"])
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.contract_type in ("linear", "inverse")
        assert row.open_interest_usd is None or math.isfinite(row.open_interest_usd)
        assert set(row.flags) <= set(FLAGS)
