"""Crypto.com: instrument list → one `get-valuations` call per perpetual; values from the recordings."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import FakeClock
from funding_finder.collector import Collector, CollectorConfig
from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import cryptocom
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from funding_finder.store import Store
from rows import by_native

INSTRUMENTS = "exchange-v1-public-get-instruments__arb-chain-bot-20260827.trimmed.json"
OBSERVED = datetime(2026, 8, 27, 19, 23, 10, tzinfo=UTC)  # just after the newest recorded estimate
SETTLES = datetime(2026, 8, 27, 20, 0, tzinfo=UTC)


def estimate(symbol: str):
    return load_json(
        "cryptocom",
        f"exchange-v1-public-get-valuations-estimated_funding_rate-{symbol}__arb-chain-bot-20260827.json",
    )


@pytest.fixture
def payloads():
    return {
        "get-instruments": load_json("cryptocom", INSTRUMENTS),
        "get-valuations": {
            symbol: estimate(symbol) for symbol in ("BTCUSD-PERP", "ETHUSD-PERP", "SOLUSD-PERP")
        },
    }


def test_spec_lists_instruments_in_the_first_round_and_declares_100_per_second_per_method():
    (endpoint,) = cryptocom.SPEC.endpoints
    assert (endpoint.name, endpoint.path, endpoint.role) == (
        "get-instruments",
        "/exchange/v1/public/get-instruments",
        Role.INSTRUMENTS,
    )
    (limit,) = cryptocom.SPEC.limits
    assert (limit.capacity, limit.window_s, limit.scope) == (100, 1.0, "endpoint")
    assert cryptocom.SPEC.hosts == {"api": "https://api.crypto.com"}


def test_one_valuation_call_is_planned_per_tradable_perpetual_only(payloads):
    calls = cryptocom.plan_calls(payloads)
    assert [call.instrument for call in calls] == ["BTCUSD-PERP", "ETHUSD-PERP", "SOLUSD-PERP"]
    assert calls[0].path == "/exchange/v1/public/get-valuations"
    assert dict(calls[0].params) == {
        "instrument_name": "BTCUSD-PERP",
        "valuation_type": "estimated_funding_rate",
        "count": "1",
    }
    assert cryptocom.plan_calls({"get-instruments": None}) == []  # no list: nothing to ask for
    listing = load_json("cryptocom", INSTRUMENTS)
    for row in listing["result"]["data"]:
        if row["symbol"] == "ETHUSD-PERP":
            row["tradable"] = False
    assert [call.instrument for call in cryptocom.plan_calls({"get-instruments": listing})] == [
        "BTCUSD-PERP",
        "SOLUSD-PERP",
    ]


def test_rows_field_by_field(payloads):
    rows = by_native(cryptocom.build_rows(payloads, OBSERVED))
    assert set(rows) == {"BTCUSD-PERP", "ETHUSD-PERP", "SOLUSD-PERP"}
    btc = rows["BTCUSD-PERP"]
    assert (btc.exchange, btc.symbol, btc.base, btc.quote, btc.settle) == (
        "cryptocom",
        "BTC/USD:USD",
        "BTC",
        "USD",
        "USD",
    )
    assert (btc.contract_type, btc.asset_class, btc.multiplier) == ("linear", "crypto", 1)
    assert btc.funding_rate == 0.000012044  # the newer of the two recorded estimates (19:02:59Z)
    assert btc.interval_hours == 1
    assert btc.next_funding_time == SETTLES
    assert btc.apr == pytest.approx(0.000012044 * 8760)
    assert (btc.mark_price, btc.open_interest_usd, btc.predicted_rate) == (None, None, None)
    assert btc.flags == ()
    eth, sol = rows["ETHUSD-PERP"], rows["SOLUSD-PERP"]
    assert (eth.symbol, eth.funding_rate, eth.interval_hours, eth.next_funding_time) == (
        "ETH/USD:USD",
        0.000006191,
        1,
        SETTLES,
    )
    assert (sol.symbol, sol.funding_rate, sol.next_funding_time, sol.flags) == (
        "SOL/USD:USD",
        -0.00002813,
        SETTLES,
        (),
    )


def test_a_replayed_estimate_settles_in_the_past_and_is_flagged_stale(payloads):
    later = datetime(2026, 12, 4, tzinfo=UTC)
    assert {row.flags for row in cryptocom.build_rows(payloads, later).rows} == {("stale",)}


def test_a_bad_answer_costs_its_instrument_only(payloads):
    payloads["get-valuations"]["ETHUSD-PERP"] = {"id": -1, "code": 0, "result": {"data": []}}
    payloads["get-valuations"]["SOLUSD-PERP"] = {
        "code": 0,
        "result": {"data": [{"v": "", "t": 1787858579000}]},
    }
    result = cryptocom.build_rows(payloads, OBSERVED)
    assert [row.native_symbol for row in result.rows] == ["BTCUSD-PERP"]
    assert result.bad_rows == 2


def test_wrong_shaped_or_empty_instrument_lists():
    with pytest.raises(BadPayload):
        cryptocom.plan_calls({"get-instruments": {"code": 0, "result": None}})
    with pytest.raises(EmptyPayload):
        cryptocom.plan_calls({"get-instruments": {"code": 0, "result": {"data": []}}})


def test_envelope_errors_and_the_rate_limit_code():
    check = cryptocom.SPEC.check_envelope
    check("cryptocom", "get-valuations", estimate("BTCUSD-PERP"))
    with pytest.raises(RateLimited):
        check("cryptocom", "get-valuations", {"id": -1, "code": 42901, "message": "TOO_MANY_REQUESTS"})
    with pytest.raises(ExchangeError, match="40004"):
        check("cryptocom", "get-valuations", {"id": -1, "code": 40004, "message": "Invalid instrument_name"})


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["BTCUSD-PERP", "ETHUSD-PERP", "SOLUSD-PERP", "XRPUSD-PERP"]),
        st.one_of(
            st.none(),
            st.text(max_size=5),
            st.fixed_dictionaries(
                {
                    "result": st.fixed_dictionaries(
                        {
                            "data": st.lists(
                                st.fixed_dictionaries(
                                    {
                                        "v": st.one_of(st.text(max_size=8), st.floats(), st.none()),
                                        "t": st.one_of(st.integers(-(10**18), 10**18), st.text(max_size=4)),
                                    }
                                ),
                                max_size=3,
                            )
                        }
                    )
                }
            ),
        ),
    )
)
def test_arbitrary_answers_never_break_build_rows(answers):
    payloads = {"get-instruments": load_json("cryptocom", INSTRUMENTS), "get-valuations": answers}
    result = cryptocom.build_rows(payloads, OBSERVED)
    assert len(result.rows) + result.bad_rows == len(answers)
    for row in result.rows:
        assert math.isfinite(row.funding_rate) and row.next_funding_time is not None


def test_a_cycle_through_the_simulator_fans_out_under_the_limit(tmp_path):
    store = Store(str(tmp_path / "funding.db"))
    with Simulator(latency_ms=0) as sim:
        config = CollectorConfig(base_urls={"cryptocom": sim.venue_url("cryptocom")})
        (run,) = Collector(store, [cryptocom], config).run_cycle().runs
        stats = sim.stats()["venues"]["cryptocom"]
    assert (run.status, run.rows, run.requests, run.failures) == ("ok", 3, 4, {})
    assert (stats["requests"], stats["violations"], stats["rejected"]) == (4, 0, 0)
    btc = {row.native_symbol: row for row in store.latest_rates()}["BTCUSD-PERP"]
    assert (btc.funding_rate, btc.next_funding_time, btc.symbol) == (0.000012044, SETTLES, "BTC/USD:USD")
    store.close()


def test_crossing_the_simulators_limit_is_a_429_the_client_reads_as_rate_limited():
    venue = LIMITS["cryptocom"]
    small = {
        **LIMITS,
        "cryptocom": dataclasses.replace(venue, pools=(dataclasses.replace(venue.pools[0], capacity=2),)),
    }
    with Simulator(latency_ms=0, clock=FakeClock(), limits=small) as sim:
        client = VenueClient(
            cryptocom.SPEC,
            RateGate("cryptocom", []),
            base_urls={"api": sim.venue_url("cryptocom")},
            retries=0,
        )
        btc = cryptocom.plan_calls({"get-instruments": load_json("cryptocom", INSTRUMENTS)})[0]
        client.fetch(btc)
        client.fetch(btc)
        with pytest.raises(RateLimited, match="HTTP 429"):
            client.fetch(btc)
        assert client.gate.paused_until > 0  # the venue's gate pauses every thread


def _history(instrument):
    return load_json(
        "cryptocom",
        f"exchange-v1-public-get-valuations-funding_hist-{instrument}__arb-chain-bot-20260827.json",
    )


def test_history_rows_field_by_field():
    parsed = cryptocom.parse_history(_history("BTCUSD-PERP"), "BTCUSD-PERP")
    assert parsed.bad_rows == 0 and len(parsed.items) == 3
    # [{"v": "0.000001323", "t": 1787857200000}, {"v": "0.000001323", "t": 1787853600000}, ... 1787850000000]
    assert [(e.funding_time, e.funding_rate) for e in parsed.items] == [
        (datetime(2026, 8, 27, h, tzinfo=UTC), 0.000001323) for h in (19, 18, 17)
    ]
    event = parsed.items[0]
    assert (event.exchange, event.native_symbol, event.interval_hours, event.mark_price) == (
        "cryptocom",
        "BTCUSD-PERP",
        None,
        None,
    )
    for instrument in ("ETHUSD-PERP", "SOLUSD-PERP"):
        [one] = cryptocom.parse_history(_history(instrument), instrument).items
        row = _history(instrument)["result"]["data"][0]
        assert (one.funding_time.timestamp() * 1000, one.funding_rate) == (row["t"], float(row["v"]))


def test_history_refuses_another_instruments_answer_and_counts_malformed_rows():
    with pytest.raises(BadPayload):
        cryptocom.parse_history(_history("ETHUSD-PERP"), "BTCUSD-PERP")
    payload = _history("BTCUSD-PERP")
    payload["result"]["data"][0]["v"] = None
    assert cryptocom.parse_history(payload, "BTCUSD-PERP").bad_rows == 1
    request = cryptocom.SPEC.history.request("BTCUSD-PERP", 10, 20)
    assert dict(request.params) == {
        "valuation_type": "funding_hist",
        "instrument_name": "BTCUSD-PERP",
        "count": "25",
        "start_ts": "10",
        "end_ts": "20",
    }
    assert request.name == cryptocom.RATES  # the same per-method bucket as the cycle's estimates
