"""Venue health over stored cycles: stale after N cycles in a row, failing above a rate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from funding_finder.cli import main
from funding_finder.collector import Collector, CollectorConfig
from funding_finder.health import HealthThresholds, problems, venue_health
from funding_finder.simulator import Simulator
from funding_finder.store import CycleRecord, Store, VenueRun

T0 = datetime(2026, 7, 4, tzinfo=UTC)


def cycles_of(*per_cycle: dict[str, tuple[str, int, bool | None]]) -> list[CycleRecord]:
    """Cycles newest first from {venue: (status, rows, live)} per cycle, given oldest first."""
    records = [
        CycleRecord(
            id=i + 1,
            started_at=T0 + timedelta(minutes=5 * i),
            finished_at=T0 + timedelta(minutes=5 * i, seconds=3),
            status="partial",
            venues=[VenueRun(v, status, rows=rows, live=live) for v, (status, rows, live) in runs.items()],
        )
        for i, runs in enumerate(per_cycle)
    ]
    return records[::-1]


OK = ("ok", 10, True)
FROZEN = ("ok", 10, False)  # rows, but every contract unchanged
FAILED = ("failed", 0, None)


def test_stale_counts_the_newest_runs_in_a_row_without_moving_data():
    records = cycles_of(
        {"okx": FROZEN, "gate": OK},
        {"okx": OK, "gate": FROZEN},
        {"okx": FROZEN, "gate": FAILED},
        {"okx": FAILED, "gate": FROZEN},
        {"okx": FROZEN, "gate": OK},
    )
    health = venue_health(records, HealthThresholds(stale_after_cycles=3))
    assert health["okx"].stale_cycles == 3 and health["okx"].stale  # frozen, failed, frozen
    assert health["gate"].stale_cycles == 0 and not health["gate"].stale  # moving again
    assert not venue_health(records, HealthThresholds(stale_after_cycles=4))["okx"].stale


def test_failure_rate_is_failed_runs_over_the_window_and_alerts_above_the_threshold():
    records = cycles_of(*[{"okx": FAILED, "gate": OK}] * 6, *[{"okx": OK, "gate": ("partial", 5, True)}] * 4)
    health = venue_health(records, HealthThresholds(failure_rate_alert=0.5))
    assert (health["okx"].runs, health["okx"].failed_runs, health["okx"].failure_rate) == (10, 6, 0.6)
    assert health["okx"].failing and not health["okx"].stale  # its newest runs are fine
    assert health["gate"].failure_rate == 0.0 and health["gate"].healthy  # partial brought rows
    assert not venue_health(records, HealthThresholds(failure_rate_alert=0.6))["okx"].failing
    # a window of the newest 4 cycles sees none of the failures
    assert venue_health(records, HealthThresholds(window_cycles=4))["okx"].failed_runs == 0


def test_a_venue_not_in_every_cycle_is_judged_on_its_own_runs():
    records = cycles_of({"okx": OK}, {"okx": OK, "kucoin": FAILED}, {"okx": OK, "kucoin": FAILED})
    health = venue_health(records, HealthThresholds(stale_after_cycles=2, failure_rate_alert=0.5))
    assert (health["kucoin"].runs, health["kucoin"].failure_rate) == (2, 1.0)
    assert health["kucoin"].stale and health["kucoin"].failing
    assert health["kucoin"].last_status == "failed" and health["okx"].healthy
    assert problems(health.values(), HealthThresholds(stale_after_cycles=2)) == [
        "kucoin: stale for 2 cycles in a row (no rows or data not moving; threshold 2)",
        "kucoin: failed 2 of its last 2 cycles (100%, above 50%)",
    ]
    assert venue_health([]) == {}


def test_the_collector_logs_a_venue_stale_after_n_replayed_cycles(tmp_path, caplog):
    """The simulator replays the same recordings: from the second cycle on every venue's data is
    unmoving, so with N = 2 the third cycle reports it stale, the second does not."""
    store = Store(str(tmp_path / "funding.db"))
    with Simulator(latency_ms=0) as sim:
        config = CollectorConfig(base_urls={"kucoin": sim.venue_url("kucoin")}, stale_after_cycles=2)
        collector = Collector(store, ["kucoin"], config)
        seen = []
        for _ in range(3):
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="funding_finder.collector"):
                collector.run_cycle()
            seen.append([r.getMessage() for r in caplog.records if "stale for" in r.getMessage()])
    assert [run.live for c in store.cycles()[::-1] for run in c.venues] == [False, False, False]
    store.close()
    # the first replay is already not live: the recorded settlements lie in the past
    assert seen[0] == []
    assert seen[1] == ["kucoin: stale for 2 cycles in a row (no rows or data not moving; threshold 2)"]
    assert seen[2] == ["kucoin: stale for 3 cycles in a row (no rows or data not moving; threshold 2)"]


def test_cycles_command_shows_the_unhealthy_venues(tmp_path):
    db = str(tmp_path / "funding.db")
    store = Store(db)
    with Simulator(latency_ms=0, faults={"okx": "http500"}) as sim:
        venues = ["okx", "kucoin"]
        config = CollectorConfig(base_urls={v: sim.venue_url(v) for v in venues}, retries=0)
        collector = Collector(store, venues, config)
        for _ in range(2):
            collector.run_cycle()
    store.close()
    result = CliRunner().invoke(
        main, ["cycles", "--db", db, "--stale-after-cycles", "5", "--failure-rate-alert", "0.5"]
    )
    assert result.exit_code == 0, result.output
    health = [line for line in result.output.splitlines() if line.startswith("health ")]
    assert health == ["health okx: failed 2 of its last 2 cycles (100%, above 50%)"]
    result = CliRunner().invoke(main, ["cycles", "--db", db, "--stale-after-cycles", "2"])
    health = [line for line in result.output.splitlines() if line.startswith("health ")]
    assert health == [
        "health kucoin: stale for 2 cycles in a row (no rows or data not moving; threshold 2)",
        "health okx: stale for 2 cycles in a row (no rows or data not moving; threshold 2)",
        "health okx: failed 2 of its last 2 cycles (100%, above 50%)",
    ]
