import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from funding_finder.model import make_rate
from funding_finder.store import SCHEMA_VERSION, Store, StoreError, VenueRun, database_url, metadata

PG_URL = os.environ.get("FUNDING_FINDER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 7, 4, 15, 56, 0, 123000, tzinfo=UTC)


def pg_available() -> bool:
    try:
        with create_engine(database_url(PG_URL)).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


def require_pg() -> None:
    """Skip without a PostgreSQL server, except in CI, where one must answer."""
    if not pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        made = Store(str(tmp_path / "funding.db"))
    else:
        require_pg()
        engine = create_engine(database_url(PG_URL))
        metadata.drop_all(engine)
        engine.dispose()
        made = Store(PG_URL)
    yield made
    made.close()


def rate(symbol="BTCUSDT", observed_at=T0, funding_rate=0.0001, **changes):
    fields = dict(
        exchange="binance",
        native_symbol=symbol,
        listed_base=symbol.removesuffix("USDT"),
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=funding_rate,
        interval_hours=8,
        next_funding_time=datetime(2026, 7, 4, 16, tzinfo=UTC),
        observed_at=observed_at,
        mark_price=57901.2,
        open_interest_usd=None,
    )
    fields.update(changes)
    return make_rate(**fields)


def test_rows_round_trip_field_by_field(store):
    cycle_id = store.start_cycle(T0)
    rows = [rate(), rate("1000PEPEUSDT", funding_rate=-0.00012345678901234, interval_hours=None, listed=None)]
    store.write_venue(cycle_id, VenueRun("binance", "ok", requests=3), rows)
    stored = store.latest_rates()
    expected = [row.to_json() for row in sorted(rows, key=lambda r: r.native_symbol)]
    assert [row.to_json() for row in stored] == expected
    assert stored[0].observed_at == T0.replace(microsecond=123000)
    assert stored[0].flags == ("interval_unknown", "unfiltered")


def test_latest_row_per_contract_is_the_newest_observation(store):
    first = store.start_cycle(T0)
    store.write_venue(first, VenueRun("binance", "ok"), [rate(), rate("ETHUSDT")])
    second = store.start_cycle(T0 + timedelta(minutes=5))
    store.write_venue(
        second, VenueRun("binance", "ok"), [rate(observed_at=T0 + timedelta(minutes=5), funding_rate=0.0002)]
    )
    latest = {row.native_symbol: row for row in store.latest_rates()}
    assert latest["BTCUSDT"].funding_rate == 0.0002
    assert latest["ETHUSDT"].funding_rate == 0.0001
    assert store.latest_rates(["okx"]) == []


def test_cycle_status_and_venue_stats_newest_first(store):
    old = store.start_cycle(T0)
    store.write_venue(
        old,
        VenueRun(
            "okx",
            "failed",
            requests=2,
            failures={"http_5xx": 2},
            duration_s=1.25,
            gate_wait_s=0.5,
            error="okx funding-rate: HTTP 503",
        ),
        [],
    )
    store.finish_cycle(old, T0 + timedelta(seconds=3), "partial")
    running = store.start_cycle(T0 + timedelta(minutes=5))
    records = store.cycles()
    assert [record.id for record in records] == [running, old]
    assert records[0].status == "running" and records[0].finished_at is None
    assert records[1].status == "partial"
    run = records[1].venues[0]
    assert (run.exchange, run.status, run.requests, run.rows, dict(run.failures)) == (
        "okx",
        "failed",
        2,
        0,
        {"http_5xx": 2},
    )
    assert (run.duration_s, run.gate_wait_s) == (1.25, 0.5)


def test_a_venue_is_written_whole_or_not_at_all(store):
    cycle_id = store.start_cycle(T0)
    broken = rate("ETHUSDT", funding_rate=None)
    with pytest.raises(IntegrityError):
        store.write_venue(cycle_id, VenueRun("binance", "ok"), [rate(), broken])
    assert store.latest_rates() == []
    assert store.cycles()[0].venues == []


def test_instrument_list_is_kept_for_a_later_failure(store):
    cycle_id = store.start_cycle(T0)
    payload = {"symbols": [{"symbol": "BTCUSDT", "status": "TRADING"}]}
    store.write_venue(cycle_id, VenueRun("binance", "ok"), [rate()], {"exchangeInfo": payload}, T0)
    stored, fetched_at = store.stored_instruments("binance", "exchangeInfo")
    assert stored == payload and fetched_at == T0.replace(microsecond=123000)
    assert store.stored_instruments("binance", "other") is None


def test_unwritable_database_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    target = locked / "sub" / "funding.db"
    if os.geteuid() == 0:  # root ignores permissions: use a path under a file instead
        (tmp_path / "file").write_text("")
        target = tmp_path / "file" / "funding.db"
    with pytest.raises(StoreError):
        Store(str(target))


def test_a_database_made_before_the_newer_columns_gets_them_added(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(database_url(str(path)))
    with engine.begin() as conn:  # venue_runs as the first release made it
        conn.execute(
            text(
                "CREATE TABLE venue_runs (cycle_id INTEGER NOT NULL, exchange VARCHAR(32) NOT NULL, "
                "status VARCHAR(16) NOT NULL, requests INTEGER NOT NULL, rows INTEGER NOT NULL, "
                "failures_json TEXT NOT NULL, duration_ms INTEGER NOT NULL, gate_wait_ms INTEGER NOT NULL, "
                "error TEXT, PRIMARY KEY (cycle_id, exchange))"
            )
        )
    engine.dispose()
    store = Store(str(path))
    cycle_id = store.start_cycle(T0)
    store.write_venue(cycle_id, VenueRun("binance", "ok", latency_ms={"p50_ms": 150.0}, live=False), [rate()])
    (run,) = store.cycles()[0].venues
    assert (run.latency_ms, run.live, run.rows) == ({"p50_ms": 150.0}, False, 1)
    store.close()


def test_collectors_opening_one_postgresql_database_together_migrate_it_once():
    require_pg()
    engine = create_engine(database_url(PG_URL))
    metadata.drop_all(engine)
    with engine.begin() as conn:  # venue_runs as the first release made it: no latency_json, no live
        conn.execute(
            text(
                "CREATE TABLE venue_runs (cycle_id INTEGER NOT NULL, exchange VARCHAR(32) NOT NULL, "
                "status VARCHAR(16) NOT NULL, requests INTEGER NOT NULL, rows INTEGER NOT NULL, "
                "failures_json TEXT NOT NULL, duration_ms INTEGER NOT NULL, gate_wait_ms INTEGER NOT NULL, "
                "error TEXT, PRIMARY KEY (cycle_id, exchange))"
            )
        )
    engine.dispose()
    opened, errors = [], []

    def open_store() -> None:
        try:
            opened.append(Store(PG_URL))
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(opened) == 4
    store = opened[0]
    store.write_venue(store.start_cycle(T0), VenueRun("okx", "ok", live=True), [rate()])
    assert store.cycles()[0].venues[0].live is True
    for made in opened:
        made.close()


def test_settlement_events_are_stored_once_and_resume_from_the_newest(store):
    from funding_finder.model import SettledFunding

    def event(hour, rate, symbol="BTCUSDT"):
        return SettledFunding("binance", symbol, datetime(2026, 7, 4, hour, tzinfo=UTC), rate, 8.0, 60000.5)

    assert store.write_events([event(0, 0.0001), event(8, -0.0002), event(0, 0.0001, "ETHUSDT")]) == 3
    assert store.write_events([event(8, -0.0002), event(16, 0.00003)]) == 1  # 08:00 is there already
    assert store.events("binance", "BTCUSDT") == [event(0, 0.0001), event(8, -0.0002), event(16, 0.00003)]
    assert store.event_spans("binance") == {
        "BTCUSDT": (datetime(2026, 7, 4, 0, tzinfo=UTC), datetime(2026, 7, 4, 16, tzinfo=UTC)),
        "ETHUSDT": (datetime(2026, 7, 4, 0, tzinfo=UTC), datetime(2026, 7, 4, 0, tzinfo=UTC)),
    }
    assert store.event_spans("okx") == {}


def test_an_observation_written_twice_is_stored_once_and_counted_once(store):
    # two collectors (or a retried write) sending the same (exchange, native_symbol, observed_at)
    first = store.start_cycle(T0)
    store.write_venue(first, VenueRun("binance", "ok"), [rate(), rate("ETHUSDT")])
    second = store.start_cycle(T0)
    store.write_venue(second, VenueRun("binance", "ok"), [rate(), rate("SOLUSDT")])
    rows = {
        run.exchange: run.rows for record in store.cycles() for run in record.venues if record.id == second
    }
    assert rows == {"binance": 1}  # only SOLUSDT was new
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM funding_rates")).scalar() == 3


def test_an_older_observation_arriving_late_does_not_replace_the_latest(store):
    newer = store.start_cycle(T0)
    store.write_venue(
        newer, VenueRun("binance", "ok"), [rate(observed_at=T0 + timedelta(minutes=5), funding_rate=0.0002)]
    )
    late = store.start_cycle(T0)  # another collector's older answer, committed after
    store.write_venue(late, VenueRun("binance", "ok"), [rate(observed_at=T0, funding_rate=0.0001)])
    (latest,) = store.latest_rates()
    assert (latest.funding_rate, latest.observed_at) == (0.0002, T0 + timedelta(minutes=5))


def test_a_database_without_the_latest_table_gets_it_filled_once(tmp_path):
    path = tmp_path / "v1.db"
    store = Store(str(path))
    for minutes, funding_rate in ((0, 0.0001), (5, 0.0003)):
        cycle_id = store.start_cycle(T0 + timedelta(minutes=minutes))
        observed_at = T0 + timedelta(minutes=minutes)
        store.write_venue(
            cycle_id,
            VenueRun("binance", "ok"),
            [rate(observed_at=observed_at, funding_rate=funding_rate), rate("ETHUSDT", observed_at=T0)],
        )
    store.close()
    engine = create_engine(database_url(str(path)))
    with engine.begin() as conn:  # as schema 1 left it: no latest table, no version
        conn.execute(text("DROP TABLE latest_rates"))
        conn.execute(text("DROP TABLE store_meta"))
    engine.dispose()
    store = Store(str(path))
    latest = {row.native_symbol: (row.funding_rate, row.observed_at) for row in store.latest_rates()}
    assert latest == {"BTCUSDT": (0.0003, T0 + timedelta(minutes=5)), "ETHUSDT": (0.0001, T0)}
    with store.engine.connect() as conn:
        version = conn.execute(text("SELECT value FROM store_meta WHERE key = 'schema_version'")).scalar()
    assert version == SCHEMA_VERSION
    store.close()


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "future.db"
    Store(str(path)).close()
    engine = create_engine(database_url(str(path)))
    with engine.begin() as conn:
        conn.execute(text("UPDATE store_meta SET value = 99 WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema version 99"):
        Store(str(path))


def test_downsampling_keeps_the_first_row_per_contract_and_hour_and_nothing_newer(store):
    from funding_finder.model import SettledFunding

    day = datetime(2026, 7, 1, tzinfo=UTC)
    for step in range(36):  # every 5 minutes from 00:00 to 02:55, two contracts
        observed_at = day + timedelta(minutes=5 * step)
        cycle_id = store.start_cycle(observed_at)
        rows = [
            rate(observed_at=observed_at, funding_rate=step * 1e-6),
            rate("ETHUSDT", observed_at=observed_at),
        ]
        store.write_venue(cycle_id, VenueRun("binance", "ok"), rows)
    store.write_events([SettledFunding("binance", "BTCUSDT", day, 0.0001, 8.0, None)])
    latest_before = store.latest_rates()
    # everything before 02:10 is thinned: the hours 00 and 01 keep their first row (00:00, 01:00);
    # 02:10 is inside hour 02, so only whole hours are done and hour 02 stays at full resolution
    deleted = store.downsample(day + timedelta(hours=2, minutes=10))
    assert deleted == 2 * (24 - 2)
    with store.engine.connect() as conn:
        kept = conn.execute(
            text(
                "SELECT observed_at_ms, funding_rate FROM funding_rates"
                " WHERE native_symbol = 'BTCUSDT' ORDER BY observed_at_ms"
            )
        ).all()
    expected_steps = [0, 12, *range(24, 36)]
    assert [(ms, funding_rate) for ms, funding_rate in kept] == [
        (int((day + timedelta(minutes=5 * step)).timestamp() * 1000), step * 1e-6) for step in expected_steps
    ]
    assert store.downsample(day + timedelta(hours=2, minutes=10)) == 0  # done once
    assert store.latest_rates() == latest_before
    assert len(store.events("binance", "BTCUSDT")) == 1
    assert store.downsample(day + timedelta(hours=3)) == 2 * 11  # hour 02 now, from where it stopped


def test_a_row_the_database_cannot_hold_costs_that_row_not_the_venue(store, caplog):
    """PostgreSQL refuses a NUL byte in text, both backends a symbol longer than its column: such a
    row is skipped and counted as `bad_row`, and the venue's other rows are stored."""
    import json

    from fakes import ScriptedServer
    from funding_finder.collector import Collector, CollectorConfig
    from funding_finder.exchanges.base import Endpoint
    from test_collector import JSON, _toy_rows, toy_venue

    venue = toy_venue([Endpoint("rates", "/rates")], lambda p, at: _toy_rows(p, at, p["rates"]))
    body = [["AAA", "0.0001"], ["B\x00B", "0.0002"], ["C" * 5000, "0.0003"], ["DDD", "-0.0004"]]
    with ScriptedServer(routes={"/rates": (200, JSON, json.dumps(body).encode(), 0.0)}) as server:
        result = Collector(store, [venue], CollectorConfig(base_urls={"toy": server.url})).run_cycle()
    (run,) = result.runs
    assert (run.status, run.rows, run.failures) == ("ok", 2, {"bad_row": 2})
    assert {row.native_symbol: row.funding_rate for row in store.latest_rates()} == {
        "AAA": 0.0001,
        "DDD": -0.0004,
    }
    skipped = [r.getMessage() for r in caplog.records if "cannot hold" in r.getMessage()]
    assert len(skipped) == 2 and "native_symbol holds a NUL byte" in skipped[0]
    assert "native_symbol is longer than 96 characters" in skipped[1]


def test_a_read_only_command_never_creates_the_tables_of_a_server_database():
    require_pg()
    from sqlalchemy import inspect

    engine = create_engine(database_url(PG_URL))
    metadata.drop_all(engine)
    with pytest.raises(StoreError, match=r"no Funding Finder tables in .*: run `funding-finder collect`"):
        Store(PG_URL, must_exist=True)
    assert not inspect(engine).has_table("cycles")
    Store(PG_URL).close()  # a writing command makes them
    Store(PG_URL, must_exist=True).close()
    engine.dispose()
