"""Deribit: the derived BTC book summary (the recorded BTC-PERPETUAL ticker row of 2025-12-12 in the
JSON-RPC envelope) and the recorded BTC (2021) and USDC (2022) instrument lists; values copied by hand
from those files. No linear book-summary row is recorded: the linear tests rename the recorded row."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, FetchError, RateLimited
from funding_finder.exchanges import deribit
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_bytes, load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import by_native

SUMMARY_BTC = "public-get_book_summary_by_currency-BTC-future.derived.json"
LIST_BTC = "public-get_instruments-BTC__cryptofeed-20210722.json"
LIST_USDC = "public-get_instruments-USDC__cryptofeed-20220529.json"
OBSERVED = datetime(2025, 12, 12, 12, 11, 14, 86000, tzinfo=UTC)  # the ticker row's timestamp


@pytest.fixture
def summary():
    return load_json("deribit", SUMMARY_BTC)


@pytest.fixture
def list_btc():
    return load_json("deribit", LIST_BTC)


@pytest.fixture
def list_usdc():
    return load_json("deribit", LIST_USDC)


def renamed(summary, name):
    """The recorded row under another perpetual's name (no linear row is recorded)."""
    row = copy.deepcopy(summary["result"][0])
    row["instrument_name"] = name
    return {"jsonrpc": "2.0", "result": [row]}


def build(**payloads):
    """`book_summary_BTC=…` is the payload of endpoint `book_summary-BTC`."""
    keyed = {"-".join(name.rsplit("_", 1)): payload for name, payload in payloads.items()}
    return deribit.build_rows(keyed, OBSERVED)


def test_spec_calls_each_currency_and_honours_credits_and_the_instruments_limit():
    spec = deribit.SPEC
    assert (spec.id, spec.hosts) == ("deribit", {"api": "https://www.deribit.com"})
    summaries = [e for e in spec.endpoints if e.role is Role.RATES]
    lists = [e for e in spec.endpoints if e.role is Role.INSTRUMENTS]
    assert [(e.name, e.path, dict(e.params)) for e in summaries] == [
        (
            f"book_summary-{c}",
            "/api/v2/public/get_book_summary_by_currency",
            {"currency": c, "kind": "future"},
        )
        for c in ("BTC", "ETH", "USDC", "USDT")
    ]
    assert [(e.name, e.path, dict(e.params)) for e in lists] == [
        (
            f"instruments-{c}",
            "/api/v2/public/get_instruments",
            {"currency": c, "kind": "future", "expired": "false"},
        )
        for c in ("BTC", "ETH", "USDC", "USDT")
    ]
    credits, instruments = spec.limits
    assert (credits.capacity, credits.window_s, credits.cost_of("book_summary-BTC")) == (10_000, 1.0, 500)
    assert credits.cost_of("instruments-USDT") == 500
    assert (instruments.capacity, instruments.window_s) == (1, 1.0)
    assert [instruments.cost_of(e.name) for e in spec.endpoints] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert spec.check_envelope is deribit.check_envelope
    assert 1 <= spec.workers <= 4


def test_inverse_btc_perpetual_stores_the_trailing_8h_rate_and_no_settlement(summary, list_btc):
    btc = by_native(build(book_summary_BTC=summary, instruments_BTC=list_btc))["BTC-PERPETUAL"]
    assert btc.exchange == "deribit"
    assert btc.symbol == "BTC/USD:BTC"
    assert (btc.base, btc.multiplier, btc.quote, btc.settle) == ("BTC", 1, "USD", "BTC")
    assert btc.contract_type == "inverse"
    assert btc.funding_rate == 0.00001742  # funding_8h; current_funding 0.0 is not used
    assert btc.interval_hours == 8
    assert btc.next_funding_time is None
    assert btc.predicted_rate is None
    assert btc.mark_price == 92281.78
    assert btc.index_price == 92263.55
    assert btc.open_interest_usd == 1132329370.0  # inverse open interest is in USD
    assert btc.volume_24h_usd is None  # the ticker row keeps volume under `stats`, not `volume_usd`
    assert btc.asset_class == "crypto"
    assert btc.apr == pytest.approx(0.00001742 * 8760 / 8)
    assert btc.flags == ()


def test_linear_usdc_perpetual_takes_its_parts_from_the_recorded_list(summary, list_usdc):
    payload = renamed(summary, "SOL_USDC-PERPETUAL")
    sol = by_native(build(book_summary_USDC=payload, instruments_USDC=list_usdc))["SOL_USDC-PERPETUAL"]
    assert sol.symbol == "SOL/USDC:USDC"
    assert (sol.base, sol.quote, sol.settle, sol.contract_type) == ("SOL", "USDC", "USDC", "linear")
    assert sol.open_interest_usd == pytest.approx(1132329370.0 * 92281.78)  # base units × mark
    assert (sol.interval_hours, sol.next_funding_time) == (8, None)
    assert sol.flags == ()


def test_usdt_perpetual_missing_from_its_failed_list_is_unfiltered_and_parsed_from_its_name(summary):
    payload = renamed(summary, "XRP_USDT-PERPETUAL")
    (xrp,) = build(book_summary_USDT=payload, instruments_USDT=None).rows
    assert xrp.symbol == "XRP/USDT:USDT"
    assert (xrp.contract_type, xrp.flags) == ("linear", ("unfiltered",))


def test_perpetual_missing_from_an_answered_list_is_kept_unlisted(summary, list_usdc):
    (btc,) = build(book_summary_BTC=summary, instruments_BTC=list_usdc).rows
    assert (btc.symbol, btc.flags) == ("BTC/USD:BTC", ("unlisted",))


def test_instrument_lists_keep_only_active_perpetuals(list_btc, list_usdc):
    kinds = [(r["kind"], r["settlement_period"]) for r in list_btc["result"]]
    assert (len(kinds), kinds.count(("future", "perpetual")), kinds.count(("future", "month"))) == (398, 1, 6)
    (btc,) = deribit.parse_instruments(list_btc).items  # 7 dated futures and 390 options dropped
    assert (btc.name, btc.contract_type, btc.settle) == ("BTC-PERPETUAL", "inverse", "BTC")
    usdc = deribit.parse_instruments(list_usdc).items
    assert len(usdc) == 16
    assert {c.contract_type for c in usdc} == {"linear"} and {c.settle for c in usdc} == {"USDC"}
    list_btc["result"] = [r for r in list_btc["result"] if r["instrument_name"] == "BTC-PERPETUAL"]
    list_btc["result"][0]["is_active"] = False
    assert deribit.parse_instruments(list_btc).items[0].active is False


def test_inactive_perpetual_and_dated_futures_are_dropped(summary, list_btc):
    dated = copy.deepcopy(summary["result"][0])
    dated["instrument_name"] = "BTC-26DEC25"
    summary["result"].append(dated)
    for row in list_btc["result"]:
        if row["instrument_name"] == "BTC-PERPETUAL":
            row["is_active"] = False
    result = build(book_summary_BTC=summary, instruments_BTC=list_btc)
    assert (result.rows, result.bad_rows) == ([], 0)
    assert len(build(book_summary_BTC=summary).rows) == 1  # the dated row is dropped without a list too


def test_each_currency_costs_only_itself(summary, list_usdc):
    usdc = renamed(summary, "SOL_USDC-PERPETUAL")
    result = build(book_summary_BTC={"jsonrpc": "2.0", "result": "x"}, book_summary_USDC=usdc)
    assert [row.native_symbol for row in result.rows] == ["SOL_USDC-PERPETUAL"]
    assert result.unusable == {"book_summary-BTC"}
    empty = build(book_summary_BTC={"jsonrpc": "2.0", "result": []}, book_summary_USDC=usdc)
    assert len(empty.rows) == 1


@pytest.mark.parametrize("bad", [{"jsonrpc": "2.0", "result": []}, {"jsonrpc": "2.0", "result": {}}, "x"])
def test_an_empty_or_malformed_second_currency_keeps_the_first_currencys_rows(summary, bad):
    result = build(book_summary_BTC=summary, book_summary_USDC=bad)
    assert ([row.native_symbol for row in result.rows], result.bad_rows) == (["BTC-PERPETUAL"], 0)
    assert result.unusable == {"book_summary-USDC"}
    with pytest.raises((BadPayload, EmptyPayload)):  # no currency left with rows: the bad one's error
        build(book_summary_USDC=bad)


def test_a_wrong_shaped_list_costs_only_its_currency(summary):
    result = build(book_summary_BTC=summary, instruments_BTC={"jsonrpc": "2.0", "result": {}})
    assert result.unusable == {"instruments-BTC"}
    assert result.rows[0].flags == ("unfiltered",)


@pytest.mark.parametrize(
    "payload", [{"jsonrpc": "2.0"}, {"jsonrpc": "2.0", "result": {}}, "x", [], {"result": None}]
)
def test_only_wrong_shapes_are_bad_payload(payload):
    with pytest.raises(BadPayload):
        build(book_summary_BTC=payload)


def test_only_empty_answers_are_empty_payload():
    with pytest.raises(EmptyPayload):
        build(book_summary_BTC={"jsonrpc": "2.0", "result": []}, book_summary_ETH={"result": []})


def test_no_answer_at_all_is_bad_payload():
    with pytest.raises(BadPayload):
        build()


def test_malformed_rows_cost_only_themselves(summary, list_usdc):
    good = summary["result"][0]
    rows = [copy.deepcopy(good) for _ in range(5)]
    rows[1]["funding_8h"] = None
    rows[2]["mark_price"] = "high"
    del rows[3]["instrument_name"]
    rows[4]["instrument_name"] = "_USDC-PERPETUAL"
    result = build(book_summary_BTC={"result": [*rows, 7]})
    assert (len(result.rows), result.bad_rows) == (1, 5)


def test_json_rpc_error_envelopes():
    too_many = {"jsonrpc": "2.0", "id": 1, "error": {"code": 10028, "message": "too_many_requests"}}
    with pytest.raises(RateLimited):
        deribit.check_envelope("deribit", "book_summary-BTC", too_many)
    invalid = {"jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params"}}
    with pytest.raises(ExchangeError) as raised:
        deribit.check_envelope("deribit", "book_summary-BTC", invalid)
    assert not isinstance(raised.value, RateLimited)
    assert "-32602" in str(raised.value)
    for shape in ({"jsonrpc": "2.0"}, [], "x"):
        with pytest.raises(BadPayload):
            deribit.check_envelope("deribit", "book_summary-BTC", shape)
    for name in (SUMMARY_BTC, LIST_BTC, LIST_USDC):
        assert deribit.check_envelope("deribit", "x", load_json("deribit", name)) is None


def test_one_cycle_through_the_simulator_keeps_the_recorded_currency_within_the_limits():
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            deribit.SPEC,
            RateGate(deribit.SPEC.id, deribit.SPEC.limits),
            base_urls={h: sim.venue_url(deribit.SPEC.id) for h in deribit.SPEC.hosts},
            retries=0,
        )
        payloads = {}
        for endpoint in deribit.SPEC.endpoints:
            try:
                payloads[endpoint.name] = client.fetch(endpoint)
            except FetchError:  # no recording for ETH, USDT (and the USDC book summary): the 404
                payloads[endpoint.name] = None
        result = deribit.build_rows(payloads, OBSERVED)
        stats = sim.stats()["venues"]["deribit"]
    assert (stats["requests"], stats["violations"], stats["rejected"]) == (8, 0, 5)
    assert sorted(name for name, payload in payloads.items() if payload is not None) == [
        "book_summary-BTC",
        "instruments-BTC",
        "instruments-USDC",
    ]
    (btc,) = result.rows
    assert (btc.native_symbol, btc.funding_rate, btc.flags) == ("BTC-PERPETUAL", 0.00001742, ())


def test_crossing_the_simulated_limit_is_the_json_rpc_error_and_rate_limited():
    pools = LIMITS["deribit"].pools
    small = dataclasses.replace(LIMITS["deribit"].pool("credits"), capacity=1000)  # two requests
    table = {**LIMITS, "deribit": dataclasses.replace(LIMITS["deribit"], pools=(small, pools[1]))}
    with Simulator(latency_ms=0, limits=table) as sim:
        url = sim.venue_url("deribit") + "/api/v2/public/get_book_summary_by_currency"
        params = {"currency": "BTC", "kind": "future"}
        answers = [requests.get(url, params=params, timeout=10) for _ in range(3)]
        client = VenueClient(
            deribit.SPEC,
            RateGate("deribit", deribit.SPEC.limits),
            base_urls={"api": sim.venue_url("deribit")},
            retries=0,
        )
        with pytest.raises(RateLimited):
            client.fetch(deribit.SPEC.endpoints[0])
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].content == load_bytes("deribit", SUMMARY_BTC)
    assert answers[2].json()["error"] == {"message": "too_many_requests", "code": 10028}


def test_the_simulator_holds_get_instruments_to_one_a_second():
    with Simulator(latency_ms=0) as sim:
        url = sim.venue_url("deribit") + "/api/v2/public/get_instruments"
        first = requests.get(url, params={"currency": "BTC", "expired": "false"}, timeout=10)
        second = requests.get(url, params={"currency": "USDC", "expired": "false"}, timeout=10)
    assert (first.status_code, second.status_code) == (200, 429)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
NUMBER = st.sampled_from([0.00001742, 0.0, -0.0003, 92281.78, 1e308]) | st.floats() | JSONISH
SUMMARY_ROW = st.fixed_dictionaries(
    {},
    optional={
        "instrument_name": st.sampled_from(
            ["BTC-PERPETUAL", "SOL_USDC-PERPETUAL", "BTC-26DEC25", "-PERPETUAL", "A_B_C-PERPETUAL"]
        )
        | JSONISH,
        "funding_8h": NUMBER,
        "mark_price": NUMBER,
        "estimated_delivery_price": NUMBER,
        "open_interest": NUMBER,
        "volume_usd": NUMBER,
    },
)
LIST_ROW = st.fixed_dictionaries(
    {},
    optional={
        "instrument_name": st.sampled_from(["BTC-PERPETUAL", "SOL_USDC-PERPETUAL"]) | JSONISH,
        "kind": st.sampled_from(["future", "option"]) | JSONISH,
        "settlement_period": st.sampled_from(["perpetual", "month"]) | JSONISH,
        "is_active": JSONISH,
        "future_type": st.sampled_from(["reversed", "linear", "quanto"]) | JSONISH,
        "settlement_currency": st.sampled_from(["BTC", "USDC", ""]) | JSONISH,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries({"result": st.lists(SUMMARY_ROW | JSONISH, max_size=5)}) | JSONISH,
    st.none() | st.fixed_dictionaries({"result": st.lists(LIST_ROW | JSONISH, max_size=4)}) | JSONISH,
)
def test_arbitrary_rows_never_break_build_rows(summary, listing):
    try:
        result = build(book_summary_BTC=copy.deepcopy(summary), instruments_BTC=copy.deepcopy(listing))
    except (BadPayload, EmptyPayload):
        return
    listed = (
        len(listing["result"])
        if isinstance(listing, dict) and "instruments-BTC" not in result.unusable
        else 0
    )
    assert len(result.rows) + result.bad_rows <= len(summary["result"]) + listed
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert (row.interval_hours, row.next_funding_time) == (8.0, None)
        assert row.contract_type in ("linear", "inverse")
        assert set(row.flags) <= set(FLAGS)
