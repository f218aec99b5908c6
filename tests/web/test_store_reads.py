"""The store's reads for the web, on SQLite and PostgreSQL: pages by contract then time, bucketed means
computed by the database, settlement events by window, cycles by offset, the data version."""

import os
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import create_engine

from funding_finder.model import SettledFunding
from funding_finder.store import Store, VenueRun, database_url, metadata
from web.test_persistence import T0, row, write

PG_URL = os.environ.get("FUNDING_FINDER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        made = Store(str(tmp_path / "r.db"))
    else:
        try:
            engine = create_engine(database_url(PG_URL))
            metadata.drop_all(engine)
            engine.dispose()
        except Exception:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is not reachable at {PG_URL}")
            pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
        made = Store(PG_URL)
    yield made
    made.close()


def fill(store):
    """Six cycles 10 minutes apart: binance 0.0008 + 0.0008·i per 8 h, okx 0.0001 per 1 h."""
    for i in range(6):
        at = T0 + timedelta(minutes=10 * i)
        cycle_id = store.start_cycle(at)
        write(store, cycle_id, "binance", 0.0008 * (i + 1), at)
        store.write_venue(cycle_id, *_okx(at))
        store.finish_cycle(cycle_id, at, "complete")


def _okx(at):
    return VenueRun("okx", "ok", rows=1), [replace(row("okx", 0.0001, at), interval_hours=1)]


def test_history_page_is_by_contract_then_time_with_limit_and_offset(store):
    fill(store)
    both = [("okx", "BTCUSDT"), ("binance", "BTCUSDT")]
    rows = store.history_page(both, T0, T0 + timedelta(hours=1), limit=100, offset=0)
    assert [(r.exchange, r.observed_at) for r in rows] == [
        (ex, T0 + timedelta(minutes=10 * i)) for ex in ("binance", "okx") for i in range(6)
    ]
    page = store.history_page(both, T0 + timedelta(minutes=10), T0 + timedelta(minutes=40), limit=2, offset=2)
    assert [(r.exchange, r.funding_rate) for r in page] == [
        ("binance", pytest.approx(0.0032)),
        ("okx", 0.0001),
    ]
    assert store.history_page([], T0, T0 + timedelta(hours=1), 10, 0) == []


def test_rate_series_is_the_mean_rate_per_hour_of_each_bucket(store):
    fill(store)
    series = store.rate_series([("binance", "BTCUSDT"), ("okx", "BTCUSDT")], T0, bucket_ms=1_800_000)
    start = int(T0.timestamp() * 1000)
    # binance per hour: (0.0008, 0.0016, 0.0024) / 8 in the first half hour, (0.0032 … 0.0048) / 8 after
    assert [t for t, _ in series[("binance", "BTCUSDT")]] == [start, start + 1_800_000]
    assert [m for _, m in series[("binance", "BTCUSDT")]] == [pytest.approx(0.0002), pytest.approx(0.0005)]
    assert [m for _, m in series[("okx", "BTCUSDT")]] == [pytest.approx(0.0001)] * 2


def test_events_page_and_cycle_page_and_the_data_version(store):
    fill(store)
    events = [
        SettledFunding("binance", "BTCUSDT", T0 + timedelta(hours=8 * i), 0.0001 * i, 8.0) for i in range(5)
    ]
    store.write_events(events)
    got = store.events_page([("binance", "BTCUSDT")], T0 + timedelta(hours=8), T0 + timedelta(hours=32), 2, 1)
    assert [e.funding_time for e in got] == [T0 + timedelta(hours=16), T0 + timedelta(hours=24)]
    assert [c.id for c in store.cycle_page(2, offset=1)] == [5, 4]
    assert [v.exchange for v in store.cycle_page(1)[0].venues] == ["binance", "okx"]
    version = store.data_version()
    assert version[:2] == (6, 2)
    cycle_id = store.start_cycle(T0 + timedelta(hours=2))
    write(store, cycle_id, "binance", 0.0001, T0 + timedelta(hours=2))
    assert store.data_version()[:2] == (7, 1)


def test_event_series_is_the_rate_per_hour_of_each_event_and_the_events_version_counts_new_ones(store):
    assert store.events_version() == 0
    events = [
        SettledFunding("binance", "BTCUSDT", T0 + timedelta(hours=8 * i), 0.0008 * (i + 1), 8.0)
        for i in range(4)
    ] + [
        SettledFunding("okx", "BTCUSDT", T0 + timedelta(hours=1), 0.0003, 1.0),
        SettledFunding("okx", "BTCUSDT", T0 + timedelta(hours=2), 0.0004, None),  # no interval: not drawn
    ]
    assert store.write_events(events) == 6
    assert store.events_version() == 6
    assert store.write_events(events[:2]) == 0  # already stored: the version stays
    assert store.events_version() == 6
    start_ms = int(T0.timestamp() * 1000)
    series = store.event_series([("binance", "BTCUSDT"), ("okx", "BTCUSDT")], T0 + timedelta(hours=8), 100)
    assert series[("binance", "BTCUSDT")] == [
        (start_ms + 8 * 3_600_000, pytest.approx(0.0016 / 8)),
        (start_ms + 16 * 3_600_000, pytest.approx(0.0024 / 8)),
        (start_ms + 24 * 3_600_000, pytest.approx(0.0032 / 8)),
    ]
    assert ("okx", "BTCUSDT") not in series  # its only drawable event is before `since`
    assert len(store.event_series([("binance", "BTCUSDT")], T0, limit=2)[("binance", "BTCUSDT")]) == 2
    assert store.event_series([], T0, 100) == {}
    store.write_events([SettledFunding("okx", "BTCUSDT", T0 + timedelta(hours=9), 0.0002, 1.0)])
    assert store.events_version() == 7


def test_cycle_page_keeps_a_known_finished_cycle_and_reads_a_changed_one_again(store):
    fill(store)
    first = {record.id: record for record in store.cycle_page(6)}
    stale = replace(first[6], venues=[])  # what a reader would hold if the runs had been read early
    again = store.cycle_page(6, known={**first, 6: stale})
    assert [record is first[record.id] for record in again[1:]] == [True] * 5  # not read again
    assert again[0] is stale  # the same end and status: taken as it is
    running = store.start_cycle(T0 + timedelta(hours=3))
    write(store, running, "binance", 0.0001, T0 + timedelta(hours=3))
    held = store.cycle_page(1)[0]
    assert held.finished_at is None and [v.exchange for v in held.venues] == ["binance"]
    store.write_venue(running, *_okx(T0 + timedelta(hours=3)))
    store.finish_cycle(running, T0 + timedelta(hours=3, minutes=1), "complete")
    newest = store.cycle_page(1, known={running: held})[0]  # finished since: read again
    assert newest.status == "complete" and [v.exchange for v in newest.venues] == ["binance", "okx"]
