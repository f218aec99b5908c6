import dataclasses
import threading
from datetime import UTC, datetime

import pytest

from funding_finder.backfill import backfill
from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import binance
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.store import Store

END = datetime(2026, 7, 13, tzinfo=UTC)
"""The newest recorded Binance history ends on 2026-07-12 16:00 UTC."""


@pytest.fixture(scope="module")
def sim():
    with Simulator(latency_ms=0) as simulator:
        yield simulator


@pytest.fixture
def store(tmp_path, sim):
    made = Store(str(tmp_path / "history.db"))
    Collector(made, ["binance"], config(sim)).run_cycle()  # the contracts to backfill
    yield made
    made.close()


def config(sim, **changes):
    return CollectorConfig(base_urls={"binance": sim.venue_url("binance")}, **changes)


def recorded_btc_times_ms():
    times = set()
    for name in (
        "fapi-v1-fundingRate-BTCUSDT-90rows__noahark-20260710.json",
        "fapi-v1-fundingRate-BTCUSDT-90rows__noahark-20260713.json",
        "fapi-v1-fundingRate-BTCUSDT-limit20__noahark-20260704T1556Z.json",
    ):
        times |= {row["fundingTime"] for row in load_json("binance", name)}
    return times


def test_backfill_stores_every_recorded_settlement_with_its_own_time_and_rate(store, sim):
    sim.reset()
    [result] = backfill(
        store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT", "ETHUSDT", "AAVEUSDT"}
    )
    assert (result.contracts, result.done, result.requests) == (3, 3, 3)  # 98 rows fit one page of 1000
    assert result.failures == {} and sim.stats()["total_violations"] == 0
    btc = store.events("binance", "BTCUSDT")
    assert len(btc) == len({round(t / 1000) for t in recorded_btc_times_ms()}) == 98
    first, second = btc[0], btc[1]
    # recorded: {"fundingTime": 1781078400011, "fundingRate": "-0.00003385", "markPrice": "61655.56078986"}
    assert first.funding_time == datetime(2026, 6, 10, 8, tzinfo=UTC)  # 11 ms of jitter rounded off
    assert (first.funding_rate, first.mark_price, first.interval_hours) == (-0.00003385, 61655.56078986, None)
    assert second.funding_time == datetime(2026, 6, 10, 16, tzinfo=UTC)
    assert (second.funding_rate, second.interval_hours) == (0.00002542, 8.0)
    assert (
        btc[-1].funding_time == datetime(2026, 7, 12, 16, tzinfo=UTC) and btc[-1].funding_rate == 0.00007578
    )
    eth = store.events("binance", "ETHUSDT")
    assert len(eth) == 20 and (eth[0].funding_time, eth[0].funding_rate) == (
        datetime(2026, 6, 28, tzinfo=UTC),
        -0.00005389,
    )
    assert store.events("binance", "AAVEUSDT") == []  # no recorded history: the venue's empty answer


def test_a_second_run_resumes_after_the_stored_events_and_adds_nothing(store, sim):
    backfill(store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT"})
    sim.reset()
    [again] = backfill(store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT"})
    # one call for the days before the oldest stored settlement (none there), one after the newest
    assert (again.requests, again.events) == (2, 0)
    assert len(store.events("binance", "BTCUSDT")) == 98


def test_pages_follow_the_rows_own_times(store, sim, monkeypatch):
    small_pages = dataclasses.replace(binance.SPEC.history, page_rows=30)
    monkeypatch.setattr(binance, "SPEC", dataclasses.replace(binance.SPEC, history=small_pages))
    sim.reset()
    [result] = backfill(store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT"})
    assert result.requests == 4  # 30 + 30 + 30 + 8 rows (the last page, short, ends the contract)
    events = store.events("binance", "BTCUSDT")
    assert len(events) == 98 and [e.interval_hours for e in events[1:]] == [8.0] * 97


def test_the_range_ends_at_the_requested_days(store, sim):
    backfill(store, ["binance"], 2, config(sim), now=END, symbols={"BTCUSDT"})
    times = [event.funding_time for event in store.events("binance", "BTCUSDT")]
    assert times == [datetime(2026, 7, 11, h, tzinfo=UTC) for h in (0, 8, 16)] + [
        datetime(2026, 7, 12, h, tzinfo=UTC) for h in (0, 8, 16)
    ]


@pytest.mark.parametrize(
    ("fault", "kind"), [("html", "http_5xx"), ("truncated", "bad_json"), ("drop", "connection")]
)
def test_a_failing_history_is_counted_and_stores_nothing_half(store, sim, fault, kind):
    sim.set_fault("binance", fault)
    try:
        [result] = backfill(store, ["binance"], 40, config(sim, retries=0), now=END, symbols={"BTCUSDT"})
    finally:
        sim.set_fault("binance", None)
    assert result.failures == {kind: 1} and result.done == 0
    assert store.events("binance", "BTCUSDT") == []


def test_without_stored_contracts_the_venue_says_to_collect_first(tmp_path, sim):
    empty = Store(str(tmp_path / "empty.db"))
    [result] = backfill(empty, ["binance", "okx"], 30, config(sim), now=END)
    assert result.contracts == 0 and "collect" in result.note
    empty.close()


def test_a_stop_before_the_start_fetches_nothing(store, sim):
    stop = threading.Event()
    stop.set()
    assert backfill(store, ["binance"], 40, config(sim), now=END, stop=stop) == []


def test_a_wider_range_fetches_what_lies_before_the_stored_events(store, sim):
    backfill(store, ["binance"], 2, config(sim), now=END, symbols={"BTCUSDT"})
    assert len(store.events("binance", "BTCUSDT")) == 6
    sim.reset()
    [wider] = backfill(store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT"})
    assert (wider.requests, wider.events) == (2, 92)  # the range before the stored six, and after them
    events = store.events("binance", "BTCUSDT")
    assert len(events) == 98 and events[0].funding_time == datetime(2026, 6, 10, 8, tzinfo=UTC)


def test_symbols_that_match_no_stored_contract_say_so(store, sim):
    [result] = backfill(store, ["binance"], 40, config(sim), now=END, symbols={"btcusdt"})
    assert result.contracts == 0 and "--symbols" in result.note
