"""The web's reads kept per data version: a commit is seen by the next request, and the incrementally
kept chart equals the database's own bucketed means after every cycle (late commits included)."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from funding_finder.store import Store
from funding_finder.web.data import Reader, chart_data
from web.test_persistence import STEP, T0, write

BUCKET_MS = 900_000  # 15 min: three cycles a bucket


@pytest.fixture
def store(tmp_path):
    made = Store(str(tmp_path / "d.db"))
    yield made
    made.close()


def test_a_commit_changes_the_data_version_and_the_next_read(store):
    reader = Reader(store, clock=lambda: T0)
    cycle_id = store.start_cycle(T0)
    write(store, cycle_id, "okx", 0.0001, T0)
    first = store.data_version()
    assert [r.funding_rate for r in reader.latest()] == [0.0001]
    write(store, cycle_id, "binance", 0.0002, T0)
    assert store.data_version() != first
    assert [(r.exchange, r.funding_rate) for r in reader.latest()] == [("binance", 0.0002), ("okx", 0.0001)]
    store.finish_cycle(cycle_id, T0, "complete")
    store.downsample(T0 + timedelta(days=30))  # thinning the history changes the version too
    assert store.data_version()[2] > 0


def test_the_kept_chart_is_the_databases_bucketed_means_after_every_cycle(store):
    draw = random.Random(7)
    reader = Reader(store, clock=lambda: T0)
    contracts = [("binance", "BTCUSDT"), ("okx", "BTCUSDT")]
    since = T0 + timedelta(minutes=7)  # floored to a bucket by the reader
    checked_reuse = False
    for i in range(60):
        at = T0 + STEP * i
        cycle_id = store.start_cycle(at)
        late = draw.random() < 0.3
        write(store, cycle_id, "binance", draw.uniform(-1e-4, 1e-4), at + timedelta(seconds=2))
        if not late:
            write(store, cycle_id, "okx", draw.uniform(-1e-4, 1e-4), at)
        start = since.replace(minute=0) if i < 30 else since + timedelta(hours=1)  # the window moves on
        floored = datetime.fromtimestamp(int(start.timestamp() * 1000) // BUCKET_MS * BUCKET_MS / 1000, UTC)
        expected = chart_data(store.rate_series(contracts, floored, BUCKET_MS))
        assert reader.chart(contracts, start, BUCKET_MS) == expected, i
        checked_reuse = checked_reuse or bool(reader._series_state)
        if late:
            write(store, cycle_id, "okx", draw.uniform(-1e-4, 1e-4), at)
    assert checked_reuse and len(expected["x"]) > 8


def test_the_events_chart_is_read_again_after_a_backfill_not_after_a_cycle(store, monkeypatch):
    from funding_finder.model import SettledFunding

    reader = Reader(store, clock=lambda: T0)
    contracts = [("binance", "BTCUSDT")]
    store.write_events([SettledFunding("binance", "BTCUSDT", T0 + timedelta(hours=8), 0.0008, 8.0)])
    reads = []
    original = store.event_series
    monkeypatch.setattr(store, "event_series", lambda *a: reads.append(a) or original(*a))
    assert reader.events_chart(contracts, T0 + timedelta(minutes=30), 100) == (
        1,
        {"x": [(T0 + timedelta(hours=8)).timestamp()], "series": [[87.6]], "labels": ["binance BTCUSDT"]},
    )  # 0.0008 / 8 h × 8760 h × 100: percent per year
    assert reads[0][1] == T0  # floored to the hour
    cycle_id = store.start_cycle(T0)
    write(store, cycle_id, "binance", 0.0001, T0)
    assert reader.events_chart(contracts, T0 + timedelta(minutes=40), 100)[0] == 1
    assert len(reads) == 1  # a cycle committed, the same hour: kept
    store.write_events([SettledFunding("binance", "BTCUSDT", T0 + timedelta(hours=16), 0.0016, 8.0)])
    assert reader.events_chart(contracts, T0 + timedelta(minutes=40), 100)[0] == 2
    assert len(reads) == 2


def test_finished_cycles_are_read_once(store):
    reader = Reader(store, clock=lambda: T0)
    for i in range(3):
        cycle_id = store.start_cycle(T0 + STEP * i)
        write(store, cycle_id, "okx", 0.0001, T0 + STEP * i)
        store.finish_cycle(cycle_id, T0 + STEP * i, "complete")
    first = reader.cycles(10)
    running = store.start_cycle(T0 + STEP * 3)
    write(store, running, "okx", 0.0002, T0 + STEP * 3)
    second = reader.cycles(10)
    assert [r.id for r in second] == [running, 3, 2, 1]
    assert all(a is b for a, b in zip(second[1:], first, strict=True))  # the same objects: not read again
    assert second[0].finished_at is None and second[0].venues[0].rows == 1
    store.finish_cycle(running, T0 + STEP * 3, "complete")
    assert reader.cycles(10)[0].status == "complete"
