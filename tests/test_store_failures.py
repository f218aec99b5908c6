"""A database that fills up or locks during a run costs the rows it could not take, counted as `store`
failures with the database's own words, and never stops the collector."""

import threading

import pytest
from sqlalchemy import event, text

from funding_finder import cli
from funding_finder.collector import Collector, CollectorConfig
from funding_finder.simulator import Simulator
from funding_finder.store import Store, StoreError


def fill_up(store: Store):
    """Let the SQLite file grow no further than it is now: SQLite's own "database or disk is full"."""
    with store.engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar()

    def cap(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(store.engine, "connect", cap)
    store.engine.dispose()  # new connections, each capped
    return cap


def test_a_full_disk_mid_run_drops_a_venues_rows_with_a_counted_failure_and_the_next_cycle_stores(tmp_path):
    store = Store(str(tmp_path / "funding.db"))
    with Simulator(latency_ms=0) as sim:
        venues = ["okx", "gate"]
        collector = Collector(store, venues, CollectorConfig(base_urls={v: sim.venue_url(v) for v in venues}))
        collector.run_cycle()
        cap = fill_up(store)
        full = collector.run_cycle()
        failed = {run.exchange: run for run in full.runs if "store" in run.failures}
        assert failed, "the capped file took every row"
        for run in failed.values():
            assert run.status == "failed" and run.error == "store: database or disk is full"
        assert full.status == "partial"
        event.remove(store.engine, "connect", cap)  # room again
        store.engine.dispose()
        after = collector.run_cycle()
    rows = {run.exchange: run.rows for run in after.runs}
    assert rows == {"okx": 3, "gate": 24}
    with store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM funding_rates WHERE cycle_id = :id"), {"id": after.cycle_id}
        ).scalar()
    assert stored == 27
    store.close()


class FlakyCollector:
    """Cycles that fail to open in the database on the calls listed in `failing`."""

    def __init__(self, store: Store, failing: set[int], stop: threading.Event, cycles: int) -> None:
        self.store, self.failing, self.stop, self.cycles, self.calls = store, failing, stop, cycles, 0

    def run_cycle(self, _stop):
        self.calls += 1
        if self.calls >= self.cycles:
            self.stop.set()
        if self.calls in self.failing:
            raise StoreError("cannot write to the database: database is locked")
        return cli.CycleResult(self.calls, "complete", [])


def test_a_database_error_after_start_up_skips_that_cycle_and_the_loop_goes_on(tmp_path, caplog):
    stop = threading.Event()
    collector = FlakyCollector(Store(str(tmp_path / "f.db")), {2}, stop, cycles=3)
    cli._collect_until_stopped(collector, stop, once=False, every_min=1e-6, keep_full_days=7)
    assert collector.calls == 3
    assert "cycle skipped, the database cannot be written: cannot write to the database" in caplog.text


def test_a_database_error_at_start_up_is_raised(tmp_path):
    stop = threading.Event()
    collector = FlakyCollector(Store(str(tmp_path / "f.db")), {1}, stop, cycles=3)
    with pytest.raises(StoreError):
        cli._collect_until_stopped(collector, stop, once=False, every_min=1e-6, keep_full_days=7)
    assert collector.calls == 1


def test_a_database_file_deleted_under_a_running_collector_is_made_again_and_written(tmp_path, caplog):
    path = tmp_path / "funding.db"
    store = Store(str(path))
    with Simulator(latency_ms=0) as sim:
        collector = Collector(store, ["okx"], CollectorConfig(base_urls={"okx": sim.venue_url("okx")}))
        collector.run_cycle()
        for leftover in tmp_path.glob("funding.db*"):
            leftover.unlink()
        second = collector.run_cycle()
    assert "was deleted or replaced while running" in caplog.text
    assert path.exists()
    with store.engine.connect() as conn:  # the rows are in the file at the path, not in the unlinked one
        assert conn.execute(text("SELECT count(*) FROM funding_rates")).scalar() == second.rows == 3
    store.close()
    assert Store(str(path), must_exist=True).latest_rates()[0].exchange == "okx"
