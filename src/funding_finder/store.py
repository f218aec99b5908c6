"""The store: SQLite by default (WAL), any SQLAlchemy URL (PostgreSQL) through the same Core code.

A collection cycle is a row with a status (`running`, then `complete` or `partial`). Each venue's
rows, its stats and its instrument-list copy are committed together in one transaction, so a reader
never sees half a venue and a cycle that dies stays `running`. Times are stored as epoch milliseconds
(`*_ms` columns) so that both backends compare them the same way.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from funding_finder.model import FundingRate, SettledFunding, iso_utc

log = logging.getLogger("funding_finder.store")

metadata = MetaData()

cycles = Table(
    "cycles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at_ms", BigInteger, nullable=False),
    Column("finished_at_ms", BigInteger),
    Column("status", String(16), nullable=False),
)

venue_runs = Table(
    "venue_runs",
    metadata,
    Column("cycle_id", Integer, ForeignKey("cycles.id"), primary_key=True),
    Column("exchange", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("requests", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("failures_json", Text, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("gate_wait_ms", Integer, nullable=False),
    Column("error", Text),
    Column("latency_json", Text),
    Column("live", Boolean),
    Column("rate_limited", Integer),
    Column("pauses", Integer),
    Column("limits_json", Text),
)

funding_rates = Table(
    "funding_rates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cycle_id", Integer, ForeignKey("cycles.id"), nullable=False),
    Column("exchange", String(32), nullable=False),
    Column("native_symbol", String(96), nullable=False),
    Column("symbol", String(128), nullable=False),
    Column("base", String(64), nullable=False),
    Column("multiplier", Integer, nullable=False),
    Column("quote", String(32), nullable=False),
    Column("settle", String(32), nullable=False),
    Column("contract_type", String(16), nullable=False),
    Column("funding_rate", Float, nullable=False),
    Column("interval_hours", Float),
    Column("next_funding_ms", BigInteger),
    Column("predicted_rate", Float),
    Column("mark_price", Float),
    Column("index_price", Float),
    Column("open_interest_usd", Float),
    Column("volume_24h_usd", Float),
    Column("asset_class", String(16), nullable=False),
    Column("apr", Float),
    Column("observed_at_ms", BigInteger, nullable=False),
    Column("flags", String(128), nullable=False),
    UniqueConstraint("exchange", "native_symbol", "observed_at_ms", name="uq_rate_observation"),
    Index("ix_rates_cycle", "cycle_id"),
)
"""One row per contract per observation; the unique key is also the index of the latest-row query."""

instrument_lists = Table(
    "instrument_lists",
    metadata,
    Column("exchange", String(32), primary_key=True),
    Column("endpoint", String(64), primary_key=True),
    Column("fetched_at_ms", BigInteger, nullable=False),
    Column("payload_zlib", LargeBinary, nullable=False),
)
"""The last instrument list each venue answered, used when a later call for it fails."""


HISTORY_CHUNK = 200
"""Contracts per `rate_history` query."""

SCHEMA_LOCK_KEY = 0x46464442  # "FFDB": the PostgreSQL advisory lock held while the schema is checked


funding_events = Table(
    "funding_events",
    metadata,
    Column("exchange", String(32), primary_key=True),
    Column("native_symbol", String(64), primary_key=True),
    Column("funding_time_ms", BigInteger, primary_key=True),
    Column("funding_rate", Float, nullable=False),
    Column("interval_hours", Float),
    Column("mark_price", Float),
)
"""Settled funding from the venues' history endpoints, one row per settlement event (`backfill`)."""

latest_table = Table(
    "latest_rates",
    metadata,
    *(Column(c.name, c.type, nullable=c.nullable) for c in funding_rates.columns if c.name != "id"),
    PrimaryKeyConstraint("exchange", "native_symbol", name="pk_latest_rates"),
)
"""The newest row of every contract, kept in the same transaction as the rows (so reading the
current table costs one row per contract, however long the history grows)."""

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
"""Small integers the store keeps about itself: `schema_version`, `downsampled_until_ms`,
`events_written` (settlement events inserted so far: the readers' cache key for them)."""

SCHEMA_VERSION = 2
"""1: the tables as first released (columns added since are nullable, see `_add_missing_columns`);
2: `latest_rates`, filled from `funding_rates`."""

HOUR_MS = 3_600_000


class StoreError(RuntimeError):
    """The database cannot be opened or written (bad URL, unwritable path, locked file)."""


@dataclass
class VenueRun:
    """One venue's part of one cycle and what it cost.

    Status: `ok`; `partial` (rows stored, but one of the venue's rate endpoints or per-instrument calls
    failed); `failed` or `deadline` (no rows this cycle).
    """

    exchange: str
    status: str
    requests: int = 0
    rows: int = 0
    failures: Mapping[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    gate_wait_s: float = 0.0
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    """p50 / p95 / max of the venue's successful calls in this cycle, in milliseconds."""
    error: str | None = None
    live: bool | None = None
    """False when the venue's data stopped moving (see `collector.venue_is_live`); None without rows."""
    rate_limited: int = 0
    """Answers that said "too many requests" (HTTP 429 or a rate-limit code in the body), retried or not."""
    pauses: int = 0
    """Times the venue paused its whole gate (a 429's Retry-After, a ban)."""
    limits: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Per declared limit: (units used in its window at the venue's end, published capacity)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "status": self.status,
            "requests": self.requests,
            "rows": self.rows,
            "failures": dict(self.failures),
            "duration_s": round(self.duration_s, 3),
            "gate_wait_s": round(self.gate_wait_s, 3),
            "latency_ms": {name: round(value, 1) for name, value in self.latency_ms.items()},
            "error": self.error,
            "live": self.live,
            "rate_limited": self.rate_limited,
            "pauses": self.pauses,
            "limits": {
                name: {"used": used, "allowed": allowed} for name, (used, allowed) in self.limits.items()
            },
        }


@dataclass
class CycleRecord:
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    venues: list[VenueRun]

    def to_json(self) -> dict[str, Any]:
        """Times ISO-8601 UTC; the venue runs as `VenueRun.to_json` (`cycles --json`, `/api/cycles`)."""
        return {
            "id": self.id,
            "started_at": iso_utc(self.started_at),
            "finished_at": iso_utc(self.finished_at),
            "status": self.status,
            "venues": [run.to_json() for run in self.venues],
        }


def database_url(db: str) -> str:
    """A path becomes a SQLite URL (parent folders created); a URL passes through.

    `postgresql://` is given the psycopg 3 driver, the one the project installs.
    """
    if "://" in db:
        if db.startswith("postgresql://") or db.startswith("postgres://"):
            return "postgresql+psycopg://" + db.split("://", 1)[1]
        return db
    path = Path(db).expanduser().resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder of {path}: {exc}") from exc
    return f"sqlite:///{path}"


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else round(moment.timestamp() * 1000)


def _dt(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)


class Store:
    """Reads and writes cycles, venue runs, funding rows and instrument lists."""

    def __init__(self, db: str, *, must_exist: bool = False) -> None:
        """`must_exist`: a SQLite path that does not exist yet is an error instead of a new database
        (the read-only commands, so that a mistyped path is not answered with an empty table)."""
        self.url = database_url(db)
        if must_exist and self.url.startswith("sqlite:///") and not Path(self.url[10:]).is_file():
            raise StoreError(f"no database at {self.url[10:]}: run `funding-finder collect` or `demo` first")
        if must_exist and self.url != "sqlite:///:memory:":
            _require_tables(self.url)
        self.engine = self._open(self.url)
        self._write_lock = threading.Lock()
        self._file_id = self._sqlite_file_id()

    def _sqlite_file_id(self) -> tuple[int, int] | None:
        """(device, inode) of a SQLite file, to notice the file deleted or replaced under a running
        collector (which would go on writing into the unlinked file, and lose everything)."""
        if not self.url.startswith("sqlite:///") or self.url == "sqlite:///:memory:":
            return None
        try:
            found = Path(self.url[10:]).stat()
        except OSError:
            return None
        return (found.st_dev, found.st_ino)

    def _reopen_if_replaced(self) -> None:
        if self._file_id is None or self._sqlite_file_id() == self._file_id:
            return
        log.error(
            "the database file %s was deleted or replaced while running; writing to a new one there",
            self.url[10:],
        )
        self.engine.dispose()
        self.engine = self._open(self.url)
        self._file_id = self._sqlite_file_id()

    @staticmethod
    def _open(url: str) -> Engine:
        try:
            engine = create_engine(url, future=True)
        except (SQLAlchemyError, ImportError) as exc:  # an unknown dialect or a driver not installed
            raise StoreError(f"cannot use the database URL {url}: {exc}") from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":  # collectors starting together take turns
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
                metadata.create_all(conn)
                _add_missing_columns(conn)
                _migrate(conn)
        except SQLAlchemyError as exc:
            shown = engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open the database {shown}: {exc.orig or exc}") from exc
        return engine

    def close(self) -> None:
        self.engine.dispose()

    # --- writing -----------------------------------------------------------------------------------
    def start_cycle(self, started_at: datetime) -> int:
        """A new `running` cycle; StoreError when the database cannot be written (read-only, locked)."""
        try:
            self._reopen_if_replaced()
            with self._write_lock, self.engine.begin() as conn:
                result = conn.execute(insert(cycles).values(started_at_ms=_ms(started_at), status="running"))
                return int(result.inserted_primary_key[0])
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to the database {self._shown_url}: {exc.orig or exc}") from exc

    def finish_cycle(self, cycle_id: int, finished_at: datetime, status: str) -> None:
        try:
            with self._write_lock, self.engine.begin() as conn:
                conn.execute(
                    update(cycles)
                    .where(cycles.c.id == cycle_id)
                    .values(finished_at_ms=_ms(finished_at), status=status)
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to the database {self._shown_url}: {exc.orig or exc}") from exc

    @property
    def _shown_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def write_venue(
        self,
        cycle_id: int,
        run: VenueRun,
        rows: Sequence[FundingRate],
        instrument_payloads: Mapping[str, Any] | None = None,
        fetched_at: datetime | None = None,
    ) -> None:
        """Commit one venue's rows, its run stats and fresh instrument lists in one transaction."""
        values = [_row_values(cycle_id, row) for row in _unique_rows(rows)]
        with self._write_lock, self.engine.begin() as conn:
            stored = self._insert_new(
                conn, funding_rates, values, ["exchange", "native_symbol", "observed_at_ms"]
            )
            if values:
                self._keep_newest(conn, values)
            conn.execute(insert(venue_runs).values(cycle_id=cycle_id, **_run_values(run, stored)))
            for endpoint, payload in (instrument_payloads or {}).items():
                key = and_(
                    instrument_lists.c.exchange == run.exchange, instrument_lists.c.endpoint == endpoint
                )
                conn.execute(delete(instrument_lists).where(key))
                conn.execute(
                    insert(instrument_lists).values(
                        exchange=run.exchange,
                        endpoint=endpoint,
                        fetched_at_ms=_ms(fetched_at or datetime.now(UTC)),
                        payload_zlib=zlib.compress(json.dumps(payload).encode()),
                    )
                )

    def _dialect_insert(self, table: Table) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql_insert(table)
        return sqlite_insert(table)

    def _insert_new(
        self, conn: Connection, table: Table, values: list[dict[str, Any]], key: list[str]
    ) -> int:
        """Insert the rows whose `key` is not stored yet (several collectors, or a rerun, may write the
        same observation); returns how many were new."""
        if not values:
            return 0
        statement = (
            self._dialect_insert(table)
            .on_conflict_do_nothing(index_elements=key)
            .returning(table.c[key[-1]])  # only the rows inserted; rowcount is not portable
        )
        return len(conn.execute(statement, values).all())

    def _keep_newest(self, conn: Connection, values: list[dict[str, Any]]) -> None:
        """Upsert `latest_rates`: a contract's row is replaced only by a newer observation."""
        statement = self._dialect_insert(latest_table)
        statement = statement.on_conflict_do_update(
            index_elements=["exchange", "native_symbol"],
            set_={
                c.name: statement.excluded[c.name]
                for c in latest_table.columns
                if c.name not in ("exchange", "native_symbol")
            },
            where=latest_table.c.observed_at_ms < statement.excluded.observed_at_ms,
        )
        conn.execute(statement, values)

    def downsample(self, older_than: datetime, bucket_ms: int = HOUR_MS) -> int:
        """Keep only the first observation per contract and `bucket_ms` (an hour) of the rows observed
        before `older_than`; returns the rows deleted. Settled-funding events and the latest rows are
        never touched. Done in whole buckets, a day per transaction, from where the last call stopped
        (`downsampled_until_ms`), so each row is looked at once and a stop loses nothing."""
        until_ms = _ms(older_than) // bucket_ms * bucket_ms
        deleted = 0
        while True:
            with self._write_lock, self.engine.begin() as conn:
                since_ms = _meta(conn, "downsampled_until_ms")
                if since_ms is None:
                    since_ms = _oldest_observation_ms(conn, bucket_ms)
                if since_ms is None or since_ms >= until_ms:
                    return deleted
                step_ms = min(until_ms, since_ms + 24 * HOUR_MS)
                deleted += _thin_out(conn, since_ms, step_ms, bucket_ms)
                _set_meta(conn, "downsampled_until_ms", step_ms)

    def write_events(self, events: Sequence[SettledFunding]) -> int:
        """Insert settlement events in one transaction, skipping those already stored (so a backfill
        can be rerun or run beside another); returns how many were new."""
        if not events:
            return 0
        values = [
            {
                "exchange": e.exchange,
                "native_symbol": e.native_symbol,
                "funding_time_ms": _ms(e.funding_time),
                "funding_rate": e.funding_rate,
                "interval_hours": e.interval_hours,
                "mark_price": e.mark_price,
            }
            for e in events
        ]
        with self._write_lock, self.engine.begin() as conn:
            key = ["exchange", "native_symbol", "funding_time_ms"]
            new = self._insert_new(conn, funding_events, values, key)
            if new:
                self._add_to_meta(conn, "events_written", new)
            return new

    def _add_to_meta(self, conn: Connection, key: str, amount: int) -> None:
        """`store_meta[key] += amount` in one statement, so collectors on other hosts never lose a count."""
        statement = self._dialect_insert(store_meta).values(key=key, value=amount)
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={"value": store_meta.c.value + statement.excluded.value}
        )
        conn.execute(statement)

    def events_version(self) -> int:
        """A token that changes whenever settlement events are added (by `backfill`, in this process
        or another): one primary-key lookup."""
        with self.engine.connect() as conn:
            return _meta(conn, "events_written") or 0

    def event_series(
        self, contracts: Iterable[tuple[str, str]], since: datetime, limit: int
    ) -> dict[tuple[str, str], list[tuple[int, float]]]:
        """Per contract, (settlement time in epoch ms, `funding_rate / interval_hours`: a fraction per
        hour) of its stored events from `since` on, oldest first, at most `limit` in all; events without
        an interval are left out. A chart's points, as plain tuples (no event objects)."""
        columns = funding_events.c
        contract = _any_contract(columns, contracts)
        if contract is None:
            return {}
        query = (
            select(
                columns.exchange,
                columns.native_symbol,
                columns.funding_time_ms,
                columns.funding_rate / columns.interval_hours,
            )
            .where(contract, columns.funding_time_ms >= _ms(since), columns.interval_hours > 0)
            .order_by(columns.exchange, columns.native_symbol, columns.funding_time_ms)
            .limit(limit)
        )
        return self._points(query, int)

    def _points(
        self, query: Any, epoch_ms: Callable[[Any], int]
    ) -> dict[tuple[str, str], list[tuple[int, float]]]:
        """The rows of a (exchange, native_symbol, time, value) query as chart points per contract,
        `epoch_ms` turning the query's time into epoch milliseconds."""
        series: dict[tuple[str, str], list[tuple[int, float]]] = {}
        with self.engine.connect() as conn:
            for exchange, native_symbol, when, value in conn.execute(query):
                series.setdefault((exchange, native_symbol), []).append((epoch_ms(when), float(value)))
        return series

    def event_spans(self, exchange: str) -> dict[str, tuple[datetime, datetime]]:
        """Per native symbol of a venue, the times of its oldest and newest stored settlement events."""
        times = funding_events.c.funding_time_ms
        query = (
            select(funding_events.c.native_symbol, func.min(times), func.max(times))
            .where(funding_events.c.exchange == exchange)
            .group_by(funding_events.c.native_symbol)
        )
        with self.engine.connect() as conn:
            return {symbol: (_dt(first), _dt(last)) for symbol, first, last in conn.execute(query)}

    def events(self, exchange: str, native_symbol: str) -> list[SettledFunding]:
        """A contract's stored settlement events, oldest first."""
        query = (
            select(funding_events)
            .where(funding_events.c.exchange == exchange, funding_events.c.native_symbol == native_symbol)
            .order_by(funding_events.c.funding_time_ms)
        )
        with self.engine.connect() as conn:
            return [
                SettledFunding(
                    row.exchange,
                    row.native_symbol,
                    _dt(row.funding_time_ms),
                    row.funding_rate,
                    row.interval_hours,
                    row.mark_price,
                )
                for row in conn.execute(query)
            ]

    # --- reading -----------------------------------------------------------------------------------
    def stored_instruments(self, exchange: str, endpoint: str) -> tuple[Any, datetime] | None:
        """The last instrument list stored for a venue endpoint, with when it was fetched."""
        query = select(instrument_lists.c.payload_zlib, instrument_lists.c.fetched_at_ms).where(
            instrument_lists.c.exchange == exchange, instrument_lists.c.endpoint == endpoint
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).first()
        if found is None:
            return None
        return json.loads(zlib.decompress(found.payload_zlib)), _dt(found.fetched_at_ms)

    def latest_rates(self, exchanges: Iterable[str] | None = None) -> list[FundingRate]:
        """The newest row of every (exchange, native_symbol), sorted by exchange then native_symbol.

        Read from `latest_rates`, which each venue's transaction keeps up to date, so a cycle in
        progress never shows half a venue and the cost does not grow with the history.
        """
        query = select(*_rate_columns(latest_table))
        if exchanges is not None:
            query = query.where(latest_table.c.exchange.in_(list(exchanges)))
        query = query.order_by(latest_table.c.exchange, latest_table.c.native_symbol)
        with self.engine.connect() as conn:
            return [_rate_of(row) for row in conn.execute(query)]

    def rate_history(
        self, contracts: Iterable[tuple[str, str]], since: datetime | None = None
    ) -> dict[tuple[str, str], list[FundingRate]]:
        """Every stored row of the given (exchange, native_symbol) contracts, oldest first, keyed by
        contract; only rows observed at or after `since` when given; a contract with no rows is absent.

        `HISTORY_CHUNK` contracts a query (`_any_contract`) keep SQLite's expression depth low.
        """
        wanted = list(dict.fromkeys(contracts))
        history: dict[tuple[str, str], list[FundingRate]] = {}
        columns = funding_rates.c
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), HISTORY_CHUNK):
                chunk = wanted[start : start + HISTORY_CHUNK]
                query = select(*_rate_columns(funding_rates)).where(_any_contract(columns, chunk))
                if since is not None:
                    query = query.where(columns.observed_at_ms >= _ms(since))
                query = query.order_by(columns.exchange, columns.native_symbol, columns.observed_at_ms)
                for row in conn.execute(query):
                    rate = _rate_of(row)
                    history.setdefault((rate.exchange, rate.native_symbol), []).append(rate)
        return history

    def cycles(self, limit: int = 20, *, finished_only: bool = False) -> list[CycleRecord]:
        """The newest cycles first, each with its committed venue runs; `finished_only` leaves out the
        cycles still `running` (or left so by a process that died)."""
        query = select(cycles).order_by(cycles.c.id.desc()).limit(limit)
        if finished_only:
            query = query.where(cycles.c.status != "running")
        with self.engine.connect() as conn:
            heads = conn.execute(query).mappings().all()
            ids = [head["id"] for head in heads]
            runs = conn.execute(
                select(venue_runs).where(venue_runs.c.cycle_id.in_(ids)).order_by(venue_runs.c.exchange)
            ).mappings()
            by_cycle: dict[int, list[VenueRun]] = {cycle_id: [] for cycle_id in ids}
            for run in runs:
                by_cycle[run["cycle_id"]].append(_run_of(run))
        return [
            CycleRecord(
                id=head["id"],
                started_at=_dt(head["started_at_ms"]),
                finished_at=_dt(head["finished_at_ms"]),
                status=head["status"],
                venues=by_cycle[head["id"]],
            )
            for head in heads
        ]

    # --- reads for the web (funding_finder.web) ---------------------------------------------------
    def data_version(self) -> tuple[int, int, int]:
        """A cheap token that changes whenever a venue's rows are committed or old history is thinned:
        (newest cycle with a committed venue, its committed venues, `downsampled_until_ms`). Two
        primary-key lookups, so a reader can cache what it derived from the latest rows."""
        with self.engine.connect() as conn:
            newest = conn.execute(select(func.max(venue_runs.c.cycle_id))).scalar() or 0
            count = conn.execute(
                select(func.count()).select_from(venue_runs).where(venue_runs.c.cycle_id == newest)
            ).scalar()
            return newest, int(count or 0), _meta(conn, "downsampled_until_ms") or 0

    def history_page(
        self, contracts: Iterable[tuple[str, str]], since: datetime, until: datetime, limit: int, offset: int
    ) -> list[FundingRate]:
        """At most `limit` stored rows of the given contracts observed in [since, until), after skipping
        `offset`, by contract then time (the unique index's order, so no sort of the whole range)."""
        columns = funding_rates.c
        contract = _any_contract(columns, contracts)
        if contract is None:
            return []
        query = (
            select(*_rate_columns(funding_rates))
            .where(contract, columns.observed_at_ms >= _ms(since), columns.observed_at_ms < _ms(until))
            .order_by(columns.exchange, columns.native_symbol, columns.observed_at_ms)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            return [_rate_of(row) for row in conn.execute(query)]

    def rate_series(
        self, contracts: Iterable[tuple[str, str]], since: datetime, bucket_ms: int
    ) -> dict[tuple[str, str], list[tuple[int, float]]]:
        """Per contract, (bucket start in epoch ms, mean `funding_rate / interval_hours` of its rows in
        that bucket, a fraction per hour), oldest first, from `since` on; rows without an interval are
        left out. A chart's points, computed by the database so that a month stays a few hundred rows."""
        columns = funding_rates.c
        bucket = (columns.observed_at_ms // bucket_ms).label("bucket")
        contract = _any_contract(columns, contracts)
        if contract is None:
            return {}
        query = (
            select(
                columns.exchange,
                columns.native_symbol,
                bucket,
                func.avg(columns.funding_rate / columns.interval_hours),
            )
            .where(contract, columns.observed_at_ms >= _ms(since), columns.interval_hours > 0)
            .group_by(columns.exchange, columns.native_symbol, bucket)
            .order_by(columns.exchange, columns.native_symbol, bucket)
        )
        return self._points(query, lambda index: int(index) * bucket_ms)

    def cycle_page(
        self, limit: int, offset: int = 0, known: Mapping[int, CycleRecord] | None = None
    ) -> list[CycleRecord]:
        """Like `cycles`, after skipping the `offset` newest cycles (the web API's pages). A finished
        cycle never changes, so one found in `known` with the same end and status is returned as it is
        and its venue runs are not read again."""
        known = known or {}
        with self.engine.connect() as conn:
            query = select(cycles).order_by(cycles.c.id.desc()).limit(limit).offset(offset)
            heads = conn.execute(query).mappings().all()
            kept = {
                h["id"]: known[h["id"]]
                for h in heads
                if h["id"] in known
                and h["finished_at_ms"] is not None
                and known[h["id"]].finished_at == _dt(h["finished_at_ms"])
                and known[h["id"]].status == h["status"]
            }
            ids = [head["id"] for head in heads if head["id"] not in kept]
            runs = conn.execute(
                select(venue_runs).where(venue_runs.c.cycle_id.in_(ids)).order_by(venue_runs.c.exchange)
            ).mappings()
            by_cycle: dict[int, list[VenueRun]] = {cycle_id: [] for cycle_id in ids}
            for run in runs:
                by_cycle[run["cycle_id"]].append(_run_of(run))
        return [
            kept.get(h["id"])
            or CycleRecord(
                h["id"], _dt(h["started_at_ms"]), _dt(h["finished_at_ms"]), h["status"], by_cycle[h["id"]]
            )
            for h in heads
        ]

    def events_page(
        self,
        contracts: Iterable[tuple[str, str]],
        since: datetime,
        until: datetime,
        limit: int,
        offset: int = 0,
    ) -> list[SettledFunding]:
        """At most `limit` settlement events of the given contracts in [since, until), after skipping
        `offset`, by contract then time (the primary key's order)."""
        columns = funding_events.c
        contract = _any_contract(columns, contracts)
        if contract is None:
            return []
        query = (
            select(funding_events)
            .where(contract, columns.funding_time_ms >= _ms(since), columns.funding_time_ms < _ms(until))
            .order_by(columns.exchange, columns.native_symbol, columns.funding_time_ms)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            return [
                SettledFunding(
                    r.exchange,
                    r.native_symbol,
                    _dt(r.funding_time_ms),
                    r.funding_rate,
                    r.interval_hours,
                    r.mark_price,
                )
                for r in conn.execute(query)
            ]


def _require_tables(url: str) -> None:
    """A database the read-only commands are pointed at must hold the store already: they never create
    its tables (a mistyped database name, or an empty file, is an error, not an empty table)."""
    try:
        engine = create_engine(url, future=True)
        try:
            found = inspect(engine).has_table(cycles.name)
        finally:
            engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"cannot open the database {shown}: {getattr(exc, 'orig', None) or exc}") from exc
    if not found:
        shown = make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"no Funding Finder tables in {shown}: run `funding-finder collect` there first")


def _any_contract(columns: Any, contracts: Iterable[tuple[str, str]]) -> Any:
    """`(exchange = … AND native_symbol = …) OR …` over the contracts (None for none): both backends
    serve each term from the (exchange, native_symbol, …) index, where a row-value `IN` makes SQLite
    scan the table."""
    terms = [and_(columns.exchange == ex, columns.native_symbol == ns) for ex, ns in contracts]
    return or_(*terms) if terms else None


def _meta(conn: Connection, key: str) -> int | None:
    return conn.execute(select(store_meta.c.value).where(store_meta.c.key == key)).scalar()


def _set_meta(conn: Connection, key: str, value: int) -> None:
    conn.execute(delete(store_meta).where(store_meta.c.key == key))
    conn.execute(insert(store_meta).values(key=key, value=value))


def _migrate(conn: Connection) -> None:
    """Bring an older database's data up to SCHEMA_VERSION, once (on PostgreSQL under the schema lock,
    in the same transaction as `create_all`). A database written by a newer version is refused."""
    version = _meta(conn, "schema_version") or 1
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the database is at schema version {version}, newer than this funding-finder's "
            f"{SCHEMA_VERSION}: upgrade funding-finder"
        )
    if version < 2:
        _fill_latest(conn)
    if version != SCHEMA_VERSION:
        _set_meta(conn, "schema_version", SCHEMA_VERSION)


def _fill_latest(conn: Connection) -> None:
    """Schema 2: `latest_rates` from the newest stored row of every contract."""
    newest = (
        select(
            funding_rates.c.exchange,
            funding_rates.c.native_symbol,
            func.max(funding_rates.c.observed_at_ms).label("observed_at_ms"),
        )
        .group_by(funding_rates.c.exchange, funding_rates.c.native_symbol)
        .subquery()
    )
    names = [c.name for c in latest_table.columns]
    rows = select(*(funding_rates.c[name] for name in names)).join(
        newest,
        and_(
            funding_rates.c.exchange == newest.c.exchange,
            funding_rates.c.native_symbol == newest.c.native_symbol,
            funding_rates.c.observed_at_ms == newest.c.observed_at_ms,
        ),
    )
    conn.execute(delete(latest_table))
    conn.execute(insert(latest_table).from_select(names, rows))


def _oldest_observation_ms(conn: Connection, bucket_ms: int) -> int | None:
    """The start of the bucket of the oldest stored observation (where downsampling begins)."""
    oldest = conn.execute(select(func.min(cycles.c.started_at_ms))).scalar()
    return None if oldest is None else (oldest - HOUR_MS) // bucket_ms * bucket_ms


def _thin_out(conn: Connection, since_ms: int, until_ms: int, bucket_ms: int) -> int:
    """Delete all but the first row per contract and bucket observed in [since_ms, until_ms).

    The rows are found through their cycles (indexed), counting cycles that started up to an hour
    before `since_ms`, whose late answers may fall in the range."""
    cycle_ids = select(cycles.c.id).where(
        cycles.c.started_at_ms >= since_ms - HOUR_MS, cycles.c.started_at_ms < until_ms
    )
    in_range = and_(
        funding_rates.c.cycle_id.in_(cycle_ids),
        funding_rates.c.observed_at_ms >= since_ms,
        funding_rates.c.observed_at_ms < until_ms,
    )
    first_of_bucket = (
        select(func.min(funding_rates.c.id))
        .where(in_range)
        .group_by(
            funding_rates.c.exchange,
            funding_rates.c.native_symbol,
            funding_rates.c.observed_at_ms // bucket_ms,
        )
    )
    result = conn.execute(delete(funding_rates).where(in_range, funding_rates.c.id.not_in(first_of_bucket)))
    return result.rowcount or 0


def _add_missing_columns(conn: Connection) -> None:
    """Add the nullable columns a database made by an older version lacks (`create_all` only makes
    missing tables). Every column added after the first release is nullable for this reason; a missing
    required one is a database this version cannot use. The DDL is built from our own table
    definitions, never from input."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise StoreError(f"the database's table {table.name} lacks the required column {column.name}")
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
            log.warning("added column %s.%s to the database", table.name, column.name)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (`rates`, the web) read while a cycle writes; wait rather than fail on a lock."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _unique_rows(rows: Sequence[FundingRate]) -> list[FundingRate]:
    seen: dict[str, FundingRate] = {}
    for row in rows:
        if row.native_symbol in seen:
            log.warning(
                "%s: %s returned twice in one response; kept the first", row.exchange, row.native_symbol
            )
            continue
        seen[row.native_symbol] = row
    return list(seen.values())


def _row_values(cycle_id: int, row: FundingRate) -> dict[str, Any]:
    return {
        "cycle_id": cycle_id,
        "exchange": row.exchange,
        "native_symbol": row.native_symbol,
        "symbol": row.symbol,
        "base": row.base,
        "multiplier": row.multiplier,
        "quote": row.quote,
        "settle": row.settle,
        "contract_type": row.contract_type,
        "funding_rate": row.funding_rate,
        "interval_hours": row.interval_hours,
        "next_funding_ms": _ms(row.next_funding_time),
        "predicted_rate": row.predicted_rate,
        "mark_price": row.mark_price,
        "index_price": row.index_price,
        "open_interest_usd": row.open_interest_usd,
        "volume_24h_usd": row.volume_24h_usd,
        "asset_class": row.asset_class,
        "apr": row.apr,
        "observed_at_ms": _ms(row.observed_at),
        "flags": ",".join(row.flags),
    }


_RATE_FIELDS = tuple(f.name for f in fields(FundingRate))
_RATE_COLUMN_NAMES = tuple(
    {"next_funding_time": "next_funding_ms", "observed_at": "observed_at_ms"}.get(name, name)
    for name in _RATE_FIELDS
)


_TEXT_LIMITS = {
    column.name: column.type.length
    for column in funding_rates.columns
    if isinstance(column.type, String) and column.name in _RATE_FIELDS
}
"""The rate fields stored as bounded text, with their lengths in characters."""


def unstorable(row: FundingRate) -> str | None:
    """Why the database would refuse this row, or None: text longer than its column, or holding a NUL
    byte (PostgreSQL's text cannot). A venue answer with such a symbol costs that row, not the venue."""
    for name, length in _TEXT_LIMITS.items():
        value = getattr(row, name)
        if "\x00" in value:
            return f"{name} holds a NUL byte"
        if length is not None and len(value) > length:
            return f"{name} is longer than {length} characters"
    return None


def _rate_columns(table: Table) -> list[Column[Any]]:
    """The columns of a rates table in `FundingRate`'s field order (what `_rate_of` reads)."""
    return [table.c[name] for name in _RATE_COLUMN_NAMES]


_NEXT_FUNDING = _RATE_FIELDS.index("next_funding_time")
_OBSERVED = _RATE_FIELDS.index("observed_at")
_FLAGS = _RATE_FIELDS.index("flags")


def _rate_of(row: Sequence[Any]) -> FundingRate:
    """A row selected with `_rate_columns`, by position: the web reads the latest row of every contract
    after each cycle, and this is twice as fast as going through a mapping."""
    values = list(row)
    values[_NEXT_FUNDING] = _dt(values[_NEXT_FUNDING])
    values[_OBSERVED] = _dt(values[_OBSERVED])
    values[_FLAGS] = tuple(values[_FLAGS].split(",")) if values[_FLAGS] else ()
    return FundingRate(*values)


def _run_values(run: VenueRun, rows: int) -> dict[str, Any]:
    return {
        "exchange": run.exchange,
        "status": run.status,
        "requests": run.requests,
        "rows": rows,
        "failures_json": json.dumps(dict(run.failures), sort_keys=True),
        "duration_ms": round(run.duration_s * 1000),
        "gate_wait_ms": round(run.gate_wait_s * 1000),
        "latency_json": json.dumps(dict(run.latency_ms), sort_keys=True),
        "error": run.error,
        "live": run.live,
        "rate_limited": run.rate_limited,
        "pauses": run.pauses,
        "limits_json": json.dumps({name: list(pair) for name, pair in run.limits.items()}, sort_keys=True),
    }


def _run_of(row: Mapping[str, Any]) -> VenueRun:
    return VenueRun(
        exchange=row["exchange"],
        status=row["status"],
        requests=row["requests"],
        rows=row["rows"],
        failures=json.loads(row["failures_json"]),
        duration_s=row["duration_ms"] / 1000,
        gate_wait_s=row["gate_wait_ms"] / 1000,
        latency_ms=json.loads(row["latency_json"] or "{}"),
        error=row["error"],
        live=row["live"],
        rate_limited=row["rate_limited"] or 0,
        pauses=row["pauses"] or 0,
        limits={
            name: (used, allowed) for name, (used, allowed) in json.loads(row["limits_json"] or "{}").items()
        },
    )
