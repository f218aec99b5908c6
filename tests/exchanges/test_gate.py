"""Gate: `/api/v4/futures/usdt/contracts` recordings → rows, values copied by hand from the recordings."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, HttpClientError, RateLimited
from funding_finder.exchanges import gate
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import by_native

RECORDING_2026 = "futures-usdt-contracts__arb-chain-bot-20260827.trimmed.json"
RECORDING_2023 = "futures-usdt-contracts__cryptofeed-20230524.json"
# The 2026 body has no timestamp; its recorder captured the same day's MEXC/Bitget bodies at 16:39:29Z,
# and the file's own settlements (20:00Z for 4 h, 00:00Z for 8 h) place it between 16:00Z and 20:00Z.
OBSERVED_2026 = datetime(2026, 8, 27, 16, 39, 29, tzinfo=UTC)
OBSERVED_2023 = datetime(2023, 5, 24, 12, 9, tzinfo=UTC)  # recorder time, shared SOURCES.md
FOUR_H_SETTLEMENT = datetime(2026, 8, 27, 20, 0, tzinfo=UTC)  # funding_next_apply 1787860800 s
EIGHT_H_SETTLEMENT = datetime(2026, 8, 28, 0, 0, tzinfo=UTC)  # funding_next_apply 1787875200 s


@pytest.fixture
def contracts():
    return load_json("gate", RECORDING_2026)


@pytest.fixture
def contracts_2023():
    return load_json("gate", RECORDING_2023)


def build(payload, observed_at=OBSERVED_2026):
    return gate.build_rows({"contracts": payload}, observed_at)


def test_spec_declares_one_contract_list_per_settle_currency_at_the_host_root():
    spec = gate.SPEC
    assert spec.id == "gate"
    assert spec.hosts == {"api": "https://api.gateio.ws"}
    assert [(e.name, e.path, e.method, e.role, e.host) for e in spec.endpoints] == [
        ("contracts", "/api/v4/futures/usdt/contracts", "GET", Role.RATES, "api"),
        ("contracts-btc", "/api/v4/futures/btc/contracts", "GET", Role.RATES, "api"),
    ]
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("public", 200, 10.0, "endpoint")
    assert limit.cost_of("contracts") == limit.cost_of("contracts-btc") == 1
    assert limit.bucket_key("contracts", None) != limit.bucket_key("contracts-btc", None)
    assert spec.workers == 2


def test_btc_8h_row_field_by_field(contracts):
    btc = by_native(build(contracts))["BTC_USDT"]
    assert btc.exchange == "gate"
    assert btc.symbol == "BTC/USDT:USDT"
    assert (btc.base, btc.multiplier, btc.quote, btc.settle) == ("BTC", 1, "USDT", "USDT")
    assert btc.contract_type == "linear"
    assert btc.funding_rate == 0.000007
    assert btc.interval_hours == 8
    assert btc.next_funding_time == EIGHT_H_SETTLEMENT
    assert btc.predicted_rate is None
    assert btc.mark_price == 80307.41
    assert btc.index_price == 80348.12
    assert btc.open_interest_usd == pytest.approx(292678192 * 0.0001 * 80307.41)
    assert btc.volume_24h_usd is None
    assert btc.asset_class == "crypto"
    assert btc.apr == pytest.approx(0.000007 * 8760 / 8)
    assert btc.flags == ()


def test_ace_4h_row_field_by_field(contracts):
    ace = by_native(build(contracts))["ACE_USDT"]
    assert ace.symbol == "ACE/USDT:USDT"
    assert (ace.base, ace.multiplier, ace.quote, ace.settle) == ("ACE", 1, "USDT", "USDT")
    assert ace.contract_type == "linear"
    assert ace.funding_rate == -0.001593
    assert ace.interval_hours == 4
    assert ace.next_funding_time == FOUR_H_SETTLEMENT
    assert ace.mark_price == 0.2083
    assert ace.index_price == 0.2092
    assert ace.open_interest_usd == pytest.approx(27509101 * 0.1 * 0.2083)
    assert ace.volume_24h_usd is None
    assert ace.apr == pytest.approx(-0.001593 * 8760 / 4)
    assert ace.flags == ()


def test_stocks_contract_is_equity(contracts):
    aaplx = by_native(build(contracts))["AAPLX_USDT"]
    assert aaplx.symbol == "AAPLX/USDT:USDT"
    assert (aaplx.base, aaplx.multiplier) == ("AAPLX", 1)
    assert aaplx.asset_class == "equity"
    assert aaplx.funding_rate == 0.0
    assert aaplx.apr == 0.0
    assert aaplx.interval_hours == 8
    assert aaplx.next_funding_time == EIGHT_H_SETTLEMENT
    assert aaplx.mark_price == 314.56
    assert aaplx.index_price == 314.73
    assert aaplx.open_interest_usd == pytest.approx(681706 * 0.01 * 314.56)


def test_name_starting_with_digits_is_an_asset_not_a_multiplier(contracts):
    rows = by_native(build(contracts))
    two_z, one_inch = rows["2Z_USDT"], rows["1INCH_USDT"]
    assert (two_z.base, two_z.multiplier, two_z.interval_hours) == ("2Z", 1, 4)
    assert two_z.funding_rate == 0.00005
    assert two_z.open_interest_usd == pytest.approx(9803 * 100 * 0.05922)
    assert (one_inch.base, one_inch.multiplier, one_inch.interval_hours) == ("1INCH", 1, 8)


def test_every_2026_contract_becomes_a_row(contracts):
    result = build(contracts)
    assert len(contracts) == 24
    assert len(result.rows) == 24
    assert result.bad_rows == 0
    intervals = [row.interval_hours for row in result.rows]
    assert (intervals.count(4), intervals.count(8)) == (15, 9)
    assert [c["funding_interval"] for c in contracts].count(14400) == 15


def test_2023_schema_without_status_is_kept_and_delisting_dropped(contracts_2023):
    result = build(contracts_2023, OBSERVED_2023)
    assert len(contracts_2023) == 302
    assert all("status" not in c for c in contracts_2023)
    expected = [c["name"] for c in contracts_2023 if not c["in_delisting"]]
    assert len(expected) == 301
    assert [row.native_symbol for row in result.rows] == expected
    assert result.bad_rows == 0
    rows = by_native(result)
    assert "COCOS_USDT" not in rows  # in_delisting: true
    btc = rows["BTC_USDT"]
    assert btc.funding_rate == 0.000086
    assert btc.interval_hours == 8
    assert btc.next_funding_time == datetime(2023, 5, 24, 16, 0, tzinfo=UTC)
    assert btc.mark_price == 26704.26
    assert btc.index_price == 26703.16
    assert btc.open_interest_usd == pytest.approx(169531691 * 0.0001 * 26704.26)
    assert btc.asset_class == "crypto"
    assert btc.flags == ()


def contract_row(payload, name):
    return next(r for r in payload if r["name"] == name)


def test_rate_beyond_the_contracts_recorded_limit_is_flagged_implausible(contracts):
    # Recorded BTC_USDT: funding_rate "0.000007" inside funding_rate_limit "0.003" (funding_cap_ratio
    # "0.75" is a factor, not read); 8 h, far below the 4 %/h sanity bound.
    assert by_native(build(contracts))["BTC_USDT"].flags == ()
    btc = contract_row(contracts, "BTC_USDT")

    def btc_flags(rate):
        btc["funding_rate"] = rate
        return by_native(build(contracts))["BTC_USDT"].flags

    assert btc_flags("0.003") == btc_flags("-0.003") == ()  # exactly at the limit, either way
    assert btc_flags("0.0030001") == ("implausible_rate",)
    assert btc_flags("-0.0030001") == ("implausible_rate",)


def test_without_a_readable_limit_no_cap_is_applied(contracts, contracts_2023):
    btc = contract_row(contracts, "BTC_USDT")
    btc["funding_rate"], btc["funding_rate_limit"] = "0.004", "none"
    result = build(contracts)
    assert result.bad_rows == 0
    assert by_native(result)["BTC_USDT"].flags == ()
    old_btc = contract_row(contracts_2023, "BTC_USDT")  # 2023 schema: no funding_rate_limit at all
    assert "funding_rate_limit" not in old_btc
    old_btc["funding_rate"] = "0.004"
    assert "implausible_rate" not in by_native(build(contracts_2023, OBSERVED_2023))["BTC_USDT"].flags


def test_settled_rows_are_kept_and_flagged_stale(contracts):
    result = build(contracts, FOUR_H_SETTLEMENT)  # exactly at the 4 h contracts' settlement
    assert len(result.rows) == 24
    stale = [row for row in result.rows if row.flags == ("stale",)]
    assert len(stale) == 15
    assert all(row.interval_hours == 4 for row in stale)
    assert by_native(result)["BTC_USDT"].flags == ()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"in_delisting": True}, "delisting"),
        ({"status": "delisting"}, "status"),
        ({"status": "pre_market"}, "status"),
        ({"is_pre_market": True}, "pre-market"),
    ],
)
def test_untradable_contracts_are_dropped_not_counted_bad(contracts, change, reason):
    contracts[0].update(change)
    result = build(contracts)
    assert "0G_USDT" not in by_native(result), reason
    assert (len(result.rows), result.bad_rows) == (23, 0)


def test_row_without_status_is_kept(contracts):
    del contracts[0]["status"]
    assert by_native(build(contracts))["0G_USDT"].funding_rate == 0.0001


def test_malformed_rows_are_skipped_and_counted(contracts):
    bad = copy.deepcopy(contracts[:5])  # 0G, 1INCH, 2Z, AAPLX, AAVE
    bad[0]["funding_rate"] = ""
    del bad[1]["funding_rate"]
    bad[2]["mark_price"] = "n/a"
    result = build(bad)
    assert result.bad_rows == 3
    assert [row.native_symbol for row in result.rows] == ["AAPLX_USDT", "AAVE_USDT"]
    assert result.rows[1].funding_rate == 0.000049


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "BTCUSDT"),
        ("name", None),
        ("funding_interval", -28800),
        ("funding_next_apply", "soon"),
        ("funding_next_apply", 10**17),  # CPython raises OSError, not ValueError, for this one
        ("funding_next_apply", 10**12),
    ],
)
def test_bad_identity_or_time_fields_cost_the_row(contracts, field, value):
    contracts[0][field] = value
    result = build(contracts)
    assert (len(result.rows), result.bad_rows) == (23, 1)


def test_missing_interval_and_settlement_are_unknown_not_invented(contracts):
    del contracts[0]["funding_interval"]
    del contracts[0]["funding_next_apply"]
    row = by_native(build(contracts))["0G_USDT"]
    assert row.interval_hours is None
    assert row.next_funding_time is None
    assert row.apr is None
    assert row.flags == ("interval_unknown",)


@pytest.mark.parametrize("payload", [{"label": "TOO_MANY_REQUESTS", "message": "slow down"}, "x", None, 3])
def test_non_list_payload_is_bad_payload(payload):
    with pytest.raises(BadPayload):
        build(payload)


def test_empty_list_is_empty_payload():
    with pytest.raises(EmptyPayload):
        build([])


def test_no_envelope_inside_http_200(contracts):
    assert gate.SPEC.check_envelope("gate", "contracts", contracts) is None


# -- BTC-settled (inverse) contracts ------------------------------------------------------------------------

DOCS_DERIVED_BTC_CONTRACT = {
    "name": "BTC_USD",
    "type": "inverse",
    "quanto_multiplier": "0",
    "mark_price": "37985.6",
    "index_price": "37954.92",
    "in_delisting": False,
    "funding_interval": 28800,
    "funding_rate": "0.002053",
    "funding_next_apply": 1610035200,
    "position_size": 5223816,
    "status": "trading",
}
"""DOCS-DERIVED, not a recording: no `/futures/btc/contracts` body was ever recorded. The field names and
units of the handbook's contract object, with the values of Gate's documented contract example (2021-01),
under the name and `type` of a BTC-settled inverse contract."""
OBSERVED_DOCS = datetime(2021, 1, 7, 12, 0, tzinfo=UTC)  # before the example's settlement
DOCS_SETTLEMENT = datetime(2021, 1, 7, 16, 0, tzinfo=UTC)  # funding_next_apply 1610035200 s


def test_btc_settled_contract_is_an_inverse_btc_usd_row():
    result = gate.build_rows({"contracts-btc": [dict(DOCS_DERIVED_BTC_CONTRACT)]}, OBSERVED_DOCS)
    assert result.bad_rows == 0
    (row,) = result.rows
    assert row.exchange == "gate"
    assert (row.symbol, row.native_symbol) == ("BTC/USD:BTC", "BTC_USD")
    assert (row.base, row.multiplier, row.quote, row.settle) == ("BTC", 1, "USD", "BTC")
    assert row.contract_type == "inverse"
    assert row.funding_rate == 0.002053
    assert row.interval_hours == 8
    assert row.next_funding_time == DOCS_SETTLEMENT
    assert (row.mark_price, row.index_price) == (37985.6, 37954.92)
    assert row.open_interest_usd is None  # an inverse contract's size is not in the handbook
    assert row.volume_24h_usd is None
    assert row.apr == pytest.approx(0.002053 * 1095)
    assert row.flags == ()


def test_btc_settled_contracts_follow_the_same_filters():
    delisting = dict(DOCS_DERIVED_BTC_CONTRACT, name="ETH_USD", in_delisting=True)
    result = gate.build_rows({"contracts-btc": [delisting, dict(DOCS_DERIVED_BTC_CONTRACT)]}, OBSERVED_DOCS)
    assert ([r.native_symbol for r in result.rows], result.bad_rows) == (["BTC_USD"], 0)


def test_a_failed_settle_list_keeps_the_other_lists_rows(contracts):
    both = {"contracts": contracts, "contracts-btc": [dict(DOCS_DERIVED_BTC_CONTRACT)]}
    assert len(gate.build_rows(both, OBSERVED_2026).rows) == 25
    usdt_only = gate.build_rows({**both, "contracts-btc": None}, OBSERVED_2026)
    assert (len(usdt_only.rows), {r.contract_type for r in usdt_only.rows}) == (24, {"linear"})
    btc_only = gate.build_rows({**both, "contracts": None}, OBSERVED_2026)
    assert [(r.native_symbol, r.flags) for r in btc_only.rows] == [("BTC_USD", ("stale",))]
    with pytest.raises(BadPayload):
        gate.build_rows({"contracts": None, "contracts-btc": None}, OBSERVED_2026)
    with pytest.raises(EmptyPayload):  # present but empty is an error when no list is left
        gate.build_rows({"contracts": None, "contracts-btc": []}, OBSERVED_2026)


@pytest.mark.parametrize("bad", [[], {"label": "TOO_MANY_REQUESTS"}, "x"])
def test_an_empty_or_malformed_btc_list_keeps_the_usdt_rows(contracts, bad):
    result = gate.build_rows({"contracts": contracts, "contracts-btc": bad}, OBSERVED_2026)
    assert (len(result.rows), {r.contract_type for r in result.rows}) == (24, {"linear"})
    assert (result.unusable, result.bad_rows) == ({"contracts-btc"}, 0)
    with pytest.raises((BadPayload, EmptyPayload)):  # no list left with rows: the bad one's error
        gate.build_rows({"contracts": None, "contracts-btc": bad}, OBSERVED_2026)


def test_end_to_end_through_the_simulator_without_violations():
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            gate.SPEC,
            RateGate(gate.SPEC.id, gate.SPEC.limits),
            base_urls={h: sim.venue_url(gate.SPEC.id) for h in gate.SPEC.hosts},
            retries=0,
        )
        payloads = {}
        for endpoint in gate.SPEC.endpoints:
            try:
                payloads[endpoint.name] = client.fetch(endpoint)
            except HttpClientError:  # the BTC-settled list has no recording: the simulator answers 404
                payloads[endpoint.name] = None
        result = gate.build_rows(payloads, OBSERVED_2026)
        stats = sim.stats()["venues"]["gate"]
    assert (stats["violations"], stats["requests"]) == (0, 2)
    assert payloads["contracts-btc"] is None
    rows = by_native(result)
    assert len(rows) == 24
    assert (rows["BTC_USDT"].funding_rate, rows["BTC_USDT"].interval_hours) == (0.000007, 8)


def test_crossing_the_simulated_limit_is_a_429_and_rate_limited():
    sim_gate = LIMITS["gate"]
    small = dataclasses.replace(sim_gate, pools=(dataclasses.replace(sim_gate.pool("public"), capacity=1),))
    with Simulator(latency_ms=0, limits={**LIMITS, "gate": small}) as sim:
        client = VenueClient(
            gate.SPEC, RateGate("gate", gate.SPEC.limits), base_urls={"api": sim.venue_url("gate")}, retries=0
        )
        assert len(client.fetch(gate.SPEC.endpoint("contracts"))) == 24
        with pytest.raises(RateLimited) as raised:
            client.fetch(gate.SPEC.endpoint("contracts"))
        assert sim.stats()["venues"]["gate"]["violations"] == 1
    assert "HTTP 429" in str(raised.value) and "TOO_MANY_REQUESTS" in str(raised.value)


NUMBERISH = st.sampled_from(["0.0001", "-0.001593", "", "abc", "NaN", "Infinity", "1e400"]) | st.floats()
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
ROW = (
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["BTC_USDT", "kPEPE_USDT", "_USDT", "BTC_", "BTC"]) | JSONISH,
            "funding_rate": NUMBERISH | JSONISH,
            "funding_interval": st.sampled_from([14400, 28800, 0, -1]) | JSONISH,
            "funding_next_apply": st.sampled_from([1787860800, 0, 10**12, -(10**12)]) | JSONISH,
            "mark_price": NUMBERISH | JSONISH,
            "index_price": NUMBERISH,
            "position_size": st.integers() | JSONISH,
            "quanto_multiplier": NUMBERISH,
            "status": st.sampled_from(["trading", "delisting"]) | JSONISH,
            "in_delisting": JSONISH,
            "is_pre_market": JSONISH,
            "contract_type": st.sampled_from(["", "stocks"]) | JSONISH,
        },
    )
    | JSONISH
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, max_size=6) | JSONISH, st.none() | st.lists(ROW, max_size=4) | JSONISH)
def test_arbitrary_json_never_breaks_build_rows(payload, btc_payload):
    try:
        result = gate.build_rows({"contracts": payload, "contracts-btc": btc_payload}, OBSERVED_2026)
    except (BadPayload, EmptyPayload):
        return
    assert all(math.isfinite(row.funding_rate) for row in result.rows)
    sizes = [len(p) for p in (payload, btc_payload) if isinstance(p, list)]
    assert len(result.rows) + result.bad_rows <= sum(sizes)
    assert all(row.open_interest_usd is None for row in result.rows if row.contract_type == "inverse")
