"""/metrics and /healthz against a database filled by one simulator cycle (one venue faulted).

Expected figures come from the stored cycle and, independently, from the simulator's own request
count per venue; the exposition text is parsed with prometheus_client's parser.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from funding_finder.collector import Collector, CollectorConfig
from funding_finder.metrics import metrics_blueprint
from funding_finder.simulator import Simulator
from funding_finder.store import Store

VENUES = ("gate", "okx", "bybit", "hyperliquid", "bitmart")


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("metrics") / "funding.db")
    store = Store(db)
    with Simulator(latency_ms=0, faults={"bitmart": "http500"}) as sim:
        config = CollectorConfig(base_urls={v: sim.venue_url(v) for v in VENUES}, retries=0)
        result = Collector(store, list(VENUES), config).run_cycle()
        sim_stats = sim.stats()
    yield store, result, sim_stats
    store.close()


def app_for(store, **options) -> Flask:
    app = Flask("metrics-test")
    app.register_blueprint(metrics_blueprint(store, **options))
    return app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_report_the_last_cycle_per_venue(filled):
    store, result, sim_stats = filled
    answer = app_for(store).test_client().get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    got = samples(answer.get_data(as_text=True))
    (cycle,) = store.cycles(1)
    assert got[("funding_finder_store_up", ())] == 1
    assert got[("funding_finder_cycles_total", (("status", "partial"),))] == 1
    assert got[("funding_finder_last_cycle_complete", ())] == 0  # bitmart failed
    assert got[("funding_finder_last_cycle_duration_seconds", ())] == pytest.approx(
        (cycle.finished_at - cycle.started_at).total_seconds()
    )
    assert got[("funding_finder_last_cycle_end_timestamp_seconds", ())] == pytest.approx(
        cycle.finished_at.timestamp()
    )
    assert got[("funding_finder_last_cycle_rows", ())] == result.rows > 0
    runs = {run.exchange: run for run in result.runs}
    for venue in VENUES:
        label = (("exchange", venue),)
        # the simulator counted every call the venue made; the metric must say the same
        assert got[("funding_finder_venue_requests", label)] == sim_stats["venues"][venue]["requests"] > 0
        assert got[("funding_finder_venue_rows", label)] == runs[venue].rows
        assert got[("funding_finder_venue_gate_wait_seconds", label)] == pytest.approx(
            runs[venue].gate_wait_s, abs=1e-3
        )
        assert got[("funding_finder_venue_duration_seconds", label)] == pytest.approx(
            runs[venue].duration_s, abs=1e-3
        )
        assert got[("funding_finder_venue_rate_limited", label)] == 0
        assert (
            got[("funding_finder_venue_status", (("exchange", venue), ("status", runs[venue].status)))] == 1
        )
        for name, (used, allowed) in runs[venue].limits.items():
            assert got[("funding_finder_venue_limit_used", (("exchange", venue), ("limit", name)))] == used
            assert (
                got[("funding_finder_venue_limit_allowed", (("exchange", venue), ("limit", name)))] == allowed
            )
    # the recorded gate contracts are all stored; the faulted venue has none and its failures by kind
    assert got[("funding_finder_venue_rows", (("exchange", "gate"),))] == runs["gate"].rows >= 24
    assert got[("funding_finder_venue_rows", (("exchange", "bitmart"),))] == 0
    assert got[("funding_finder_venue_status", (("exchange", "bitmart"), ("status", "failed")))] == 1
    for venue in VENUES:  # failures by kind, as stored (gate's unrecorded btc list is an http_4xx)
        by_kind = {
            dict(labels)["kind"]: value
            for (name, labels), value in got.items()
            if name == "funding_finder_venue_failures" and dict(labels)["exchange"] == venue
        }
        assert by_kind == dict(runs[venue].failures)
    assert runs["bitmart"].failures["http_5xx"] >= 1
    assert "http_4xx" in runs["gate"].failures
    assert not runs["hyperliquid"].failures


def test_metrics_carry_extra_families_of_the_process(filled):
    from prometheus_client.core import CounterMetricFamily

    def extra():
        family = CounterMetricFamily("funding_finder_alerts_sent", "Alerts delivered.")
        family.add_metric([], 3)
        yield family

    got = samples(app_for(filled[0], extra=extra).test_client().get("/metrics").get_data(as_text=True))
    assert got[("funding_finder_alerts_sent_total", ())] == 3


def test_healthz_is_ok_while_the_last_cycle_is_recent(filled):
    store, result, _ = filled
    (cycle,) = store.cycles(1)
    fresh = app_for(store, max_age_s=600, now=lambda: cycle.finished_at + timedelta(seconds=30))
    answer = fresh.test_client().get("/healthz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ok"
    assert body["last_cycle"]["id"] == result.cycle_id
    assert body["last_cycle"]["age_s"] == 30.0
    assert body["last_cycle"]["rows"] == result.rows


def test_healthz_is_503_when_the_last_cycle_is_old_or_the_loop_stopped(filled):
    store, _, _ = filled
    (cycle,) = store.cycles(1)
    late = app_for(store, max_age_s=600, now=lambda: cycle.finished_at + timedelta(seconds=601))
    answer = late.test_client().get("/healthz")
    assert (answer.status_code, answer.get_json()["status"]) == (503, "stale")
    stopped = app_for(store, collecting=lambda: False, now=lambda: cycle.finished_at)
    answer = stopped.test_client().get("/healthz")
    assert (answer.status_code, answer.get_json()["status"]) == (503, "stopped")
    assert answer.get_json()["collecting"] is False


def test_healthz_is_503_without_a_cycle_or_a_readable_database(tmp_path):
    empty = Store(str(tmp_path / "empty.db"))
    answer = app_for(empty).test_client().get("/healthz")
    assert (answer.status_code, answer.get_json()["status"]) == (503, "no_cycle")
    empty.close()
    missing = app_for(str(tmp_path / "nowhere.db")).test_client()
    answer = missing.get("/healthz")
    assert (answer.status_code, answer.get_json()["status"]) == (503, "database_unreadable")
    assert "no database at" in answer.get_json()["error"]
    got = samples(missing.get("/metrics").get_data(as_text=True))
    assert got[("funding_finder_store_up", ())] == 0
