"""The product under every injected fault: the right counted kind, a log line naming exchange and
endpoint, no crash, no half-written venue; a mixed 10 % fault rate costs (almost) no rows; a 429 storm
on one venue does not slow the others."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import VENUES
from funding_finder.simulator import Simulator
from funding_finder.store import Store

FAULTED = ("okx", "kucoin", "hyperliquid", "bitfinex", "krakenfutures")
"""Venues of different shapes: code envelope + list, one bulk call, a POST, positional rows, two lists."""
CONTROL = "dydx"
RATE_ENDPOINT = {
    "okx": "funding-rate",
    "kucoin": "contracts-active",
    "hyperliquid": "metaAndAssetCtxs",
    "bitfinex": "status-deriv",
    "krakenfutures": "tickers",
}
TIMEOUT_S = 0.5
HANG_S = 1.5  # beyond the call timeout: "hang" and "stall" are timeouts


def _sim(**kwargs) -> Simulator:
    return Simulator(latency_ms=0, hang_s=HANG_S, drip_s=0.3, ban_s=1.0, storm_retry_after_s=1, **kwargs)


@pytest.fixture(scope="module")
def sim():
    with _sim() as running:
        yield running


@pytest.fixture
def store(tmp_path):
    made = Store(str(tmp_path / "funding.db"))
    yield made
    made.close()


def collector(store: Store, sim: Simulator, venues=(*FAULTED, CONTROL), **config) -> Collector:
    settings = {"timeout_s": TIMEOUT_S, "retries": 1, "instruments_max_age_s": 0, **config}
    return Collector(
        store, list(venues), CollectorConfig(base_urls={v: sim.venue_url(v) for v in venues}, **settings)
    )


@pytest.fixture(scope="module")
def clean_rows(sim, tmp_path_factory):
    """Rows per venue of a fault-free cycle."""
    made = Store(str(tmp_path_factory.mktemp("clean") / "funding.db"))
    result = collector(made, sim).run_cycle()
    made.close()
    assert all(run.status == "ok" and run.rows > 0 for run in result.runs), result.runs
    return {run.exchange: run.rows for run in result.runs}


FAILING = {
    "html": "http_5xx",
    "http500": "http_5xx",
    "http503": "http_5xx",
    "drop": "connection",
    "reset": "connection",
    "hang": "timeout",
    "stall": "timeout",
    "storm": "rate_limited",
    "ban": "banned",
    "truncated": "bad_json",
    "empty": "empty",
    "envelope": "exchange_error",
}
RETRIED = {"http_5xx", "connection", "timeout", "rate_limited"}


@pytest.mark.parametrize("fault", list(FAILING))
def test_a_fault_on_every_call_fails_the_venue_with_its_counted_kind(store, sim, clean_rows, fault, caplog):
    sim.reset()
    for venue in FAULTED:
        sim.set_fault(venue, fault)
    try:
        with caplog.at_level(logging.WARNING):
            result = collector(store, sim).run_cycle()
    finally:
        sim.set_fault("all", None)
    runs = {run.exchange: run for run in result.runs}
    stored = {}
    for row in store.latest_rates():
        stored[row.exchange] = stored.get(row.exchange, 0) + 1
    for venue in FAULTED:
        kind = "http_4xx" if (fault, venue) == ("envelope", "hyperliquid") else FAILING[fault]
        run = runs[venue]
        assert (run.status, run.rows, set(run.failures)) == ("failed", 0, {kind}), run
        assert run.error.startswith(f"{venue} {RATE_ENDPOINT[venue]}: "), run.error
        assert venue not in stored  # nothing half-written
        endpoints = len(VENUES[venue].SPEC.endpoints)
        if fault != "empty":  # an empty answer is a failure of the rows built, not of a call
            assert run.failures[kind] == endpoints, run  # each endpoint's final failure
        attempts = 2 if kind in RETRIED else 1  # retries=1
        assert run.requests == attempts * endpoints, run
        logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{venue} ")]
        assert any(m.startswith(f"{venue} {RATE_ENDPOINT[venue]}: ") for m in logged), logged
    control = runs[CONTROL]
    assert (control.status, control.failures, control.rows) == ("ok", {}, clean_rows[CONTROL])
    assert stored[CONTROL] == clean_rows[CONTROL]
    assert sim.stats()["venues"][CONTROL]["faults"] == 0


@pytest.mark.parametrize("fault", ["missing", "renamed"])
def test_a_row_without_its_rate_field_is_dropped_and_counted_the_rest_stored(
    store, sim, clean_rows, fault, caplog
):
    sim.reset()
    for venue in FAULTED:
        sim.set_fault(venue, fault)
    try:
        with caplog.at_level(logging.WARNING):
            result = collector(store, sim).run_cycle()
    finally:
        sim.set_fault("all", None)
    stored = {}
    for row in store.latest_rates():
        stored[row.exchange] = stored.get(row.exchange, 0) + 1
    for run in result.runs:
        if run.exchange == CONTROL:
            continue
        assert (run.status, run.failures) == ("ok", {"bad_row": 1}), run
        assert run.rows == stored[run.exchange] == clean_rows[run.exchange] - 1
        line = f"{run.exchange} {RATE_ENDPOINT[run.exchange]}: skipped a malformed row"
        assert any(r.getMessage().startswith(line) for r in caplog.records), line


def test_every_venue_counts_a_row_without_its_rate_field_and_keeps_the_others(store, tmp_path):
    """`missing` on every venue: each altered row (one per answer holding the field) is dropped and
    counted `bad_row`, never read as a default; the venue's other rows are stored."""
    venues = tuple(VENUES)
    with _sim() as sim:
        clean_store = Store(str(tmp_path / "clean.db"))
        clean = {r.exchange: r.rows for r in collector(clean_store, sim, venues).run_cycle().runs}
        clean_store.close()
        sim.set_fault("all", "missing")
        runs = collector(store, sim, venues).run_cycle().runs
    for run in runs:
        dropped = run.failures.get("bad_row", 0)
        assert dropped >= 1, run
        assert run.rows == clean[run.exchange] - dropped, run


def test_a_slow_drip_is_a_late_but_whole_answer(store, sim, clean_rows):
    sim.reset()
    sim.set_fault("okx", "drip")  # 0.3 s per answer, every piece within the 0.5 s read timeout
    try:
        result = collector(store, sim, ("okx",)).run_cycle()
    finally:
        sim.set_fault("okx", None)
    (run,) = result.runs
    assert (run.status, run.failures, run.rows) == ("ok", {}, clean_rows["okx"])
    assert run.latency_ms["p50_ms"] >= 250


def test_a_drip_slower_than_the_venue_deadline_is_abandoned_at_the_deadline(store):
    """The call timeout bounds each read, not a whole answer that keeps trickling in; the venue
    deadline bounds it: the venue is counted `deadline`, the others are not held."""
    with Simulator(latency_ms=0, faults={"okx": "drip"}, drip_s=4.0) as sim:
        result = collector(store, sim, ("okx", "kucoin"), venue_deadline_s=1.0).run_cycle()
    runs = {run.exchange: run for run in result.runs}
    assert runs["okx"].status == "deadline" and runs["okx"].failures.get("deadline", 0) >= 1
    assert runs["okx"].rows == 0 and runs["okx"].duration_s < 3
    assert runs["kucoin"].status == "ok" and runs["kucoin"].rows > 0


def test_a_ban_pauses_the_venue_until_the_end_its_body_names(store, sim):
    sim.reset()
    sim.set_fault("okx", "ban")  # ban_s 1.0
    try:
        c = collector(store, sim, ("okx",))
        c.run_cycle()
    finally:
        sim.set_fault("okx", None)
    assert c.clients["okx"].gate.stats.pauses >= 1
    second = c.run_cycle().runs[0]  # the ban is over: the venue answers again, after its pause
    assert second.status == "ok"


# -- a mixed fault rate over every venue -----------------------------------------------------------


CHAOS_SEED = 6  # bench/bench_chaos.py's seed; the faulted requests are a function of it


def chaos_cycles(cycles: int, tmp_path) -> tuple[int, list, dict, Counter]:
    """Rows of a fault-free cycle, then `cycles` cycles of one collector under `all=mixed@0.1`
    (the product's default retries and instrument-list age), the simulator's stats and the
    product's failed attempts by kind."""
    venues = tuple(VENUES)
    with _sim(seed=CHAOS_SEED) as sim:
        clean_store = Store(str(tmp_path / "clean.db"))
        possible = collector(clean_store, sim, venues, retries=2, instruments_max_age_s=3600).run_cycle().rows
        clean_store.close()
        sim.set_fault("all", "mixed@0.1")
        sim.reset()
        chaos_store = Store(str(tmp_path / "chaos.db"))
        c = collector(chaos_store, sim, venues, retries=2, instruments_max_age_s=3600)
        results = [c.run_cycle() for _ in range(cycles)]
        stats = sim.stats()["venues"]
        chaos_store.close()
    counted: Counter[str] = Counter()
    for client in c.clients.values():
        counted.update(client.answers)
    return possible, results, stats, counted


def test_a_mixed_ten_percent_fault_rate_costs_at_most_half_a_percent_of_the_rows(tmp_path):
    possible, results, stats, counted = chaos_cycles(3, tmp_path)
    for result in results:
        assert result.rows >= 0.995 * possible, [(r.exchange, r.rows, r.failures) for r in result.runs]
        for run in result.runs:
            assert "error" not in run.failures, run  # "error" is the kind of a bug
    injected: Counter[str] = Counter()
    for venue_stats in stats.values():
        injected.update(venue_stats["faults_by_kind"])
    assert sum(injected.values()) >= 10
    # every injected fault was counted by the product under its kind (bybit's storm is its 403 ban)
    bybit_storms = stats["bybit"]["faults_by_kind"].get("storm", 0)
    assert counted["http_5xx"] == injected["html"] + injected["http500"] + injected["http503"]
    assert counted["connection"] == injected["drop"] + injected["reset"]
    assert counted["timeout"] == injected["hang"]
    assert counted["rate_limited"] + counted["banned"] == injected["storm"]
    assert counted["banned"] == bybit_storms


# -- a 429 storm on one venue does not slow the others ----------------------------------------------

OTHERS = ("kucoin", "hyperliquid", "bitfinex", "gate", "coinex")
LATENCY_MS = 100.0
RETRY_AFTER_S = 2


def _spans(storm: bool, tmp_path) -> tuple[dict[str, dict], dict]:
    """Per venue: the simulator's stats (calls, arrival times) and the run, storm on okx or not."""
    faults = {"okx": "storm"} if storm else {}
    with Simulator(
        latency_ms=LATENCY_MS, latency_sigma=0, faults=faults, storm_retry_after_s=RETRY_AFTER_S
    ) as sim:
        made = Store(str(tmp_path / f"storm-{storm}.db"))
        result = collector(made, sim, ("okx", *OTHERS), retries=2, timeout_s=5).run_cycle()
        made.close()
        stats = sim.stats()["venues"]
    return stats, {run.exchange: run for run in result.runs}


def test_a_429_storm_on_one_venue_leaves_the_others_calls_and_durations_unchanged(tmp_path):
    """Were the storm's pauses shared, every other venue would lose at least one Retry-After (2 s);
    the bound allowed for noise is five answers' worth of the simulator's fixed latency (0.5 s)."""
    calm_stats, calm_runs = _spans(False, tmp_path)
    storm_stats, storm_runs = _spans(True, tmp_path)
    okx = storm_runs["okx"]
    assert okx.status == "failed" and okx.rate_limited == 6 and okx.pauses >= 2  # 2 endpoints × 3 tries
    assert okx.duration_s >= 2 * RETRY_AFTER_S  # it waited out two Retry-After pauses
    bound_s = 5 * LATENCY_MS / 1000
    for venue in OTHERS:
        calm, stormy = calm_stats[venue], storm_stats[venue]
        assert stormy["by_endpoint"] == calm["by_endpoint"], venue  # the same calls
        assert stormy["faults"] == 0
        span_calm = calm["last_arrival_s"] - calm["first_arrival_s"]
        span_storm = stormy["last_arrival_s"] - stormy["first_arrival_s"]
        assert span_storm <= span_calm + bound_s, (venue, span_calm, span_storm)
        assert (storm_runs[venue].status, storm_runs[venue].rows) == (
            calm_runs[venue].status,
            calm_runs[venue].rows,
        )
        durations = (venue, calm_runs[venue].duration_s, storm_runs[venue].duration_s)
        assert storm_runs[venue].duration_s <= calm_runs[venue].duration_s + bound_s, durations
        assert storm_runs[venue].duration_s < RETRY_AFTER_S, durations


# -- the command line ------------------------------------------------------------------------------


def test_simulate_takes_fault_rates_mixes_and_all_and_refuses_bad_ones():
    from click.testing import CliRunner

    from funding_finder.cli import _faults, main

    assert _faults(("all=mixed@0.1", "OKX=reset+html@0.2")) == {"all": "mixed@0.1", "okx": "reset+html@0.2"}
    with _sim(faults=_faults(("all=mixed@0.1", "okx=reset+html@0.2"))) as sim:
        assert sim.faults["okx"] == "reset+html@0.2" and sim.faults["gate"] == "mixed@0.1"
    for bad in ("gate=html@2", "gate=html+", "gate=html@", "all=smoke"):
        result = CliRunner().invoke(main, ["simulate", "--fault", bad])
        assert result.exit_code == 2, (bad, result.output)
