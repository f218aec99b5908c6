"""The `funding-finder` command line: collect, run, rates, cycles, exchanges, simulate, demo, settings."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from funding_finder import __version__
from funding_finder.arbitrage import HOLD_HOURS_RANGE
from funding_finder.collector import Collector, CollectorConfig, CycleResult, url_overrides
from funding_finder.exchanges import CCXT_PREFIX, VENUES, get_venue
from funding_finder.health import HealthThresholds, problems, venue_health
from funding_finder.model import FLAG_INTERVAL_UNKNOWN, FLAGS, FundingRate, iso_utc, strict_json
from funding_finder.settings import (
    COLLECTOR_SETTINGS,
    NON_NEGATIVE,
    POSITIVE,
    FiniteNumber,
    markdown_table,
    option,
    options,
)
from funding_finder.store import Store, StoreError, VenueRun

log = logging.getLogger("funding_finder.cli")

console = Console()
if not console.is_terminal:  # piped: wide enough that flags and symbols are not cut
    console.width = max(console.width, 160)
SORT_KEYS = ("exchange", "apr", "funding_rate", "symbol")
MAX_BACKFILL_DAYS = 3650


def _setup_logging(level: str) -> None:
    errors = Console(stderr=True)
    if not errors.is_terminal:  # a log file: one line per record rather than wrapped at 80 columns
        errors.width = max(errors.width, 200)
    logging.basicConfig(
        level=level.upper(),
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=errors, show_path=False, markup=False)],
        force=True,
    )


def _venue_ids(exchanges: str) -> list[str]:
    """Parse `--exchanges` (comma-separated, any case, duplicates merged); an id that is not
    implemented, or a list naming none, is a usage error (exit 2)."""
    if exchanges.strip().lower() == "all":
        return list(VENUES)
    ids = list(dict.fromkeys(part.strip().lower() for part in exchanges.split(",") if part.strip()))
    if not ids:
        raise click.UsageError(f"no exchange named. Implemented exchanges: {', '.join(VENUES)}", None)
    unknown = [venue_id for venue_id in ids if venue_id not in VENUES and not _ccxt_venue_ok(venue_id)]
    if unknown:
        raise click.UsageError(
            f"not implemented: {', '.join(unknown)}. Implemented exchanges: {', '.join(VENUES)}", None
        )
    return ids


def _ccxt_venue_ok(venue_id: str) -> bool:
    """`ccxt:<id>` is a venue when ccxt is installed and that exchange has fetchFundingRates; a usage
    error says what is missing otherwise."""
    if not venue_id.startswith(CCXT_PREFIX):
        return False
    try:
        get_venue(venue_id)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0]), None) from None
    return True


def _open_store(db: str, *, must_exist: bool = False) -> Store:
    try:
        return Store(db, must_exist=must_exist)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _interrupted(store: Store) -> NoReturn:
    """Leave at once after Ctrl-C or SIGTERM: the cycle is already closed and every venue written
    whole; calls still hanging in worker threads would otherwise be waited for at exit."""
    console.print("stopped")
    store.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _stop_on_signals() -> tuple[threading.Event, Callable[[], None]]:
    """An event set by the first Ctrl-C or SIGTERM, and the function that puts the previous handlers
    back. The cycle sees the event within 0.1 s, closes itself and the command exits 130: nothing is
    raised inside a database write. A second signal exits at once."""
    stop = threading.Event()

    def handle(_signum: int, _frame: Any) -> None:
        if stop.is_set():
            os._exit(130)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return stop, restore


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="funding-finder")
def main() -> None:
    """Funding rates of every perpetual contract, normalized across venues."""


def _config(
    venue_ids: Sequence[str], base_urls: dict[str, str] | None = None, **settings: Any
) -> CollectorConfig:
    """The collector's settings; venue URLs from `FUNDING_FINDER_<ID>_URL` unless given (a malformed
    one is a usage error, exit 2)."""
    if base_urls is None:
        try:
            base_urls = url_overrides(venue_ids)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        _warn_unknown_overrides([*VENUES, *venue_ids])
    return CollectorConfig(**settings, base_urls=base_urls)


def _warn_unknown_overrides(venue_ids: Sequence[str]) -> None:
    """A mistyped `FUNDING_FINDER_<ID>_URL` would leave that venue on its live host: say so."""
    known = {f"FUNDING_FINDER_{venue_id.upper().replace(':', '_')}_URL" for venue_id in venue_ids}
    for name in sorted(os.environ):
        if name.startswith("FUNDING_FINDER_") and name.endswith("_URL") and name not in known:
            log.warning("%s names no venue (ids: %s); it is ignored", name, ", ".join(VENUES))


@main.command()
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@option("every")
@option("db")
@option("exchanges")
@options(*COLLECTOR_SETTINGS)
@option("stale_after_cycles")
@option("failure_rate_alert")
@option("keep_full_days")
@option("log_level")
def collect(
    once: bool, every: float, db: str, exchanges: str, keep_full_days: float, log_level: str, **settings: Any
) -> None:
    """Collect the funding rate of every perpetual: one cycle, or one every --every minutes.

    `settings`: the collector's settings (deadlines, timeout, retries, instrument-list age)."""
    stop, restore = _stop_on_signals()
    try:
        _setup_logging(log_level)
        venue_ids = _venue_ids(exchanges)
        config = _config(venue_ids, **settings)
        store = _open_store(db)
        try:
            _collect_until_stopped(Collector(store, venue_ids, config), stop, once, every, keep_full_days)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        if stop.is_set():
            _interrupted(store)
        store.close()
    finally:
        restore()


def _collect_until_stopped(
    collector: Collector, stop: threading.Event, once: bool, every_min: float, keep_full_days: float
) -> None:
    """Cycles until `stop` is set (or one, with `once`); `every_min` minutes from start to start.
    After each cycle, snapshots older than `keep_full_days` are thinned to one per contract and hour."""
    cycles = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            _print_cycle(collector.run_cycle(stop))
        except StoreError as exc:
            if cycles == 0:  # at start-up an unwritable database is the user's to fix: exit 1
                raise
            log.error(
                "cycle skipped, the database cannot be written: %s (next try in %g min)", exc, every_min
            )
        else:
            if not stop.is_set():
                _downsample(collector.store, keep_full_days)
        cycles += 1
        if once or stop.is_set():
            return
        pause_s = max(0.0, every_min * 60 - (time.monotonic() - started))
        console.print(f"next cycle in {pause_s:.0f} s (Ctrl-C stops)")
        stop.wait(pause_s)


def _downsample(store: Store, keep_full_days: float) -> None:
    """A failure here (a locked or full disk) costs the thinning, never the collection: it is retried
    after the next cycle from where it stopped."""
    try:
        deleted = store.downsample(datetime.now(UTC) - timedelta(days=keep_full_days))
    except SQLAlchemyError as exc:
        log.error("downsampling snapshots older than %s days failed: %s", keep_full_days, exc)
        return
    if deleted:
        log.info(
            "thinned %d snapshot rows older than %s days to one per contract and hour",
            deleted,
            keep_full_days,
        )


def _print_cycle(result: CycleResult) -> None:
    table = Table(title=f"cycle {result.cycle_id}: {result.status}, {result.rows} rows")
    for column in ("exchange", "status", "rows", "requests", "failures", "duration s", "gate wait s"):
        table.add_column(
            column, justify="right" if column not in ("exchange", "status", "failures") else "left"
        )
    for run in result.runs:
        failures = ", ".join(f"{kind} {count}" for kind, count in sorted(run.failures.items())) or "—"
        table.add_row(
            Text(run.exchange),
            run.status,
            str(run.rows),
            str(run.requests),
            failures,
            f"{run.duration_s:.2f}",
            f"{run.gate_wait_s:.2f}",
        )
    console.print(table)


@main.command()
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="How far back, in days, from now.",
)
@click.option(
    "--symbols", default=None, help="Comma-separated native symbols only (default: every stored contract)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the per-venue summary as JSON.")
@option("db")
@option("exchanges")
@option("timeout_s")
@option("retries")
@option("log_level")
def backfill(
    days: float, symbols: str | None, as_json: bool, db: str, exchanges: str, log_level: str, **settings: Any
) -> None:
    """Settled funding history of every stored contract (run `collect` first), under each venue's limit.

    One row per settlement with the venue's own time; what is stored is not fetched again, so an
    interrupted run resumes. Venues without a history endpoint yet are skipped."""
    from funding_finder.backfill import backfill as run_backfill
    from funding_finder.backfill import venues_with_history

    if not math.isfinite(days) or days > MAX_BACKFILL_DAYS:
        raise click.BadParameter(
            f"{days} is not a number of days up to {MAX_BACKFILL_DAYS}", param_hint="--days"
        )
    stop, restore = _stop_on_signals()
    try:
        _setup_logging(log_level)
        venue_ids = _venue_ids(exchanges)
        with_history = [venue.SPEC.id for venue in venues_with_history(venue_ids)]
        if not with_history:
            raise click.UsageError(f"none of {', '.join(venue_ids)} has a history endpoint yet")
        config = _config(with_history, timeout_s=settings["timeout_s"], retries=settings["retries"])
        store = _open_store(db, must_exist=True)
        wanted = None if symbols is None else {s.strip() for s in symbols.split(",") if s.strip()}
        if wanted is not None and not wanted:
            raise click.UsageError(f"--symbols {symbols!r} names no symbol")
        with _backfill_progress(as_json) as progress:
            results = run_backfill(
                store, with_history, days, config, symbols=wanted, progress=progress, stop=stop
            )
        if as_json:
            click.echo(json.dumps(strict_json([result.to_json() for result in results]), indent=2))
        else:
            for result in results:
                failures = ", ".join(f"{k} {v}" for k, v in sorted(result.failures.items())) or "no failures"
                console.print(
                    f"{result.exchange:<13} {result.done}/{result.contracts} contracts  "
                    f"{result.events} new events  {result.requests} requests  {result.duration_s:.1f} s  "
                    f"wait {result.gate_wait_s:.1f} s  {result.note or failures}",
                    highlight=False,
                )
        if stop.is_set():
            _interrupted(store)
        store.close()
        refused = [result.store_error for result in results if result.store_error]
        if refused:  # the events fetched could not be kept: the user's to fix, as at `collect`'s start
            raise click.ClickException(refused[0])
    finally:
        restore()


@contextlib.contextmanager
def _backfill_progress(quiet: bool) -> Iterator[Callable[[str, int, int, int, float], None] | None]:
    """A rich progress bar per venue (contracts done, events, ETA); none with `quiet`."""
    if quiet:
        yield None
        return
    columns = (
        TextColumn("{task.description:<13}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[events]} events"),
        TextColumn("wait {task.fields[wait_s]:.1f} s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def advance(exchange: str, contracts: int, events: int, total: int, wait_s: float) -> None:
            if exchange not in tasks:
                tasks[exchange] = bar.add_task(exchange, total=total, events=0, wait_s=0.0)
            task = tasks[exchange]
            events_so_far = bar.tasks[task].fields["events"] + events
            bar.update(task, advance=contracts, events=events_so_far, wait_s=wait_s)

        yield advance


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per contract.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header, one line per contract.")
@click.option("--exchange", "exchange_ids", multiple=True, help="Only this venue (repeatable).")
@click.option(
    "--sort",
    "sort_key",
    type=click.Choice(SORT_KEYS),
    default="exchange",
    show_default=True,
    help="Sort order; apr and funding_rate sort descending with unknowns last.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many rows.")
@option("db")
def rates(
    as_json: bool, as_csv: bool, exchange_ids: tuple[str, ...], sort_key: str, limit: int | None, db: str
) -> None:
    """The latest funding row of every contract in the store."""
    _one_format(as_json, as_csv)
    wanted = _venue_ids(",".join(exchange_ids)) if exchange_ids else None
    store = _open_store(db, must_exist=True)
    rows = sort_rates(store.latest_rates(wanted), sort_key)[:limit]
    store.close()
    if as_json:
        click.echo(json.dumps(strict_json([row.to_json() for row in rows])))
    elif as_csv:
        _echo_csv([row.to_json() for row in rows])
    else:
        console.print(rates_table(rows, title=f"{len(rows)} contracts"))


def sort_rates(rows: list[FundingRate], sort_key: str) -> list[FundingRate]:
    """Rows sorted for display: by exchange and native symbol, or by a number descending, nulls last."""
    if sort_key == "exchange":
        return sorted(rows, key=lambda row: (row.exchange, row.native_symbol))
    if sort_key == "symbol":
        return sorted(rows, key=lambda row: (row.symbol, row.exchange))
    known = [row for row in rows if getattr(row, sort_key) is not None]
    unknown = [row for row in rows if getattr(row, sort_key) is None]
    return sorted(known, key=lambda row: getattr(row, sort_key), reverse=True) + unknown


def _pct(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.6g}"


def rates_table(rows: Sequence[FundingRate], title: str) -> Table:
    """Presentation only: rates are shown in percent here and nowhere inside the code.

    Venue strings go in as `Text`, never as markup, so a symbol like `[red]X` prints literally. A
    terminal narrower than 110 columns gets no open-interest column, so that flags stay visible.
    """
    wide = console.width >= 110
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("exchange", no_wrap=True, min_width=7)
    table.add_column("symbol", overflow="fold", min_width=18)
    numbers = [("rate", 9), ("h", 2), ("APR", 8), ("next (UTC)", 11)] + ([("OI USD", 11)] if wide else [])
    for column, width in numbers:
        table.add_column(column, justify="right", no_wrap=True, min_width=width)
    table.add_column("flags", overflow="fold")
    for row in rows:
        table.add_row(
            Text(row.exchange),
            Text(row.symbol),
            _pct(row.funding_rate),
            "—" if row.interval_hours is None else f"{row.interval_hours:g}",
            _pct(row.apr, 1),
            f"{row.next_funding_time:%m-%d %H:%M}" if row.next_funding_time else "—",
            *([_num(row.open_interest_usd)] if wide else []),
            Text(" ".join(row.flags), overflow="fold"),
        )
    return table


def _one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other")


def _echo_csv(records: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """CSV with a header; lists (flags) joined by `;`, unknown values empty."""
    header = list(columns) if columns is not None else list(records[0]) if records else []
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(
            {name: ";".join(value) if isinstance(value, list) else value for name, value in record.items()}
        )
    click.echo(out.getvalue(), nl=False)


ALLOWABLE_FLAGS = tuple(flag for flag in FLAGS if flag != FLAG_INTERVAL_UNKNOWN)


def _allowed_flags(text: str) -> frozenset[str]:
    """`--allow-flags stale,unlisted`: row flags that do not exclude a row; `interval_unknown` never."""
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(ALLOWABLE_FLAGS))
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: allowed are {', '.join(ALLOWABLE_FLAGS)}", param_hint="--allow-flags"
        )
    return frozenset(names)


def _fee_overrides(pairs: Sequence[str]) -> dict[str, float]:
    """`--taker-fee okx=0.0004` (repeatable): a venue's taker fee as a fraction per trade."""
    fees = {}
    for pair in pairs:
        venue_id, _, value = pair.partition("=")
        try:
            fee = float(value)
        except ValueError:
            fee = math.nan
        if not venue_id.strip() or not math.isfinite(fee) or not 0 <= fee < 0.1:
            raise click.BadParameter(
                f"expected VENUE=FRACTION with 0 <= FRACTION < 0.1, got {pair!r}", param_hint="--taker-fee"
            )
        venue_id = venue_id.strip().lower()
        if venue_id not in VENUES and not venue_id.startswith(CCXT_PREFIX):
            raise click.BadParameter(
                f"{venue_id!r} is not a venue; implemented: {', '.join(VENUES)}", param_hint="--taker-fee"
            )
        fees[venue_id] = fee
    return fees


@main.command()
@option("db")
@click.option(
    "--exchanges",
    default="all",
    show_default=True,
    help="Comma-separated venue ids the legs may be on (see `funding-finder exchanges`).",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Pairs shown.")
@click.option(
    "--min-oi-usd",
    type=NON_NEGATIVE,
    default=None,
    help="Each leg's open interest, USD, at least.",
)
@click.option(
    "--min-volume-usd",
    type=NON_NEGATIVE,
    default=None,
    help="Each leg's 24 h volume, USD, at least.",
)
@click.option("--linear-only", is_flag=True, help="No inverse (coin-margined) legs.")
@click.option(
    "--min-net-apr",
    type=float,
    default=None,
    help="Net APR over the holding period at least this, as a fraction per year (0.2 = 20 %).",
)
@click.option(
    "--hold-hours",
    type=FiniteNumber(minimum=HOLD_HOURS_RANGE[0], maximum=HOLD_HOURS_RANGE[1]),
    default=168.0,
    show_default=True,
    help="Holding period in hours over which the fees of opening and closing are spread.",
)
@click.option(
    "--allow-flags",
    default="",
    help=f"Comma-separated row flags that do not exclude a row ({', '.join(ALLOWABLE_FLAGS)}); "
    "such pairs are marked. Rows with an unknown interval are always left out.",
)
@click.option(
    "--taker-fee", "taker_fees", multiple=True, help="VENUE=FRACTION: that venue's taker fee (repeatable)."
)
@click.option(
    "--history-days",
    type=POSITIVE,
    default=7.0,
    show_default=True,
    help="How far back the stored history is read for how long a spread has stayed positive (days).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per pair.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header, one line per pair.")
def top(
    db: str,
    exchanges: str,
    limit: int,
    min_oi_usd: float | None,
    min_volume_usd: float | None,
    linear_only: bool,
    min_net_apr: float | None,
    hold_hours: float,
    allow_flags: str,
    taker_fees: tuple[str, ...],
    history_days: float,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Cross-venue carry: per asset, long where funding per hour is lowest and short where it is highest.

    Net of opening and closing both legs as a taker, over --hold-hours; with how long the spread has
    stayed positive in the stored history (at most --history-days). Rows flagged stale, unlisted,
    unfiltered or implausible_rate are left out unless --allow-flags names the flag."""
    from funding_finder.arbitrage import Filters, find_opportunities, flat_columns, with_persistence

    _one_format(as_json, as_csv)
    if min_net_apr is not None and not math.isfinite(min_net_apr):
        raise click.BadParameter(f"{min_net_apr} is not a finite fraction", param_hint="--min-net-apr")
    venue_ids = None if exchanges.strip().lower() == "all" else frozenset(_venue_ids(exchanges))
    filters = Filters(
        min_open_interest_usd=min_oi_usd,
        min_volume_24h_usd=min_volume_usd,
        exchanges=venue_ids,
        linear_only=linear_only,
        min_net_apr=min_net_apr,
        allow_flags=_allowed_flags(allow_flags),
    )
    fees = _fee_overrides(taker_fees)
    store = _open_store(db, must_exist=True)
    scan = find_opportunities(
        store.latest_rates(venue_ids), hold_hours=hold_hours, filters=filters, fees=fees
    )
    shown = scan.opportunities[:limit]
    since = datetime.now(UTC) - timedelta(days=min(history_days, MAX_BACKFILL_DAYS))
    history = store.rate_history({key for o in shown for key in (o.long.key, o.short.key)}, since)
    store.close()
    shown = [with_persistence(opportunity, history) for opportunity in shown]
    if as_json:
        click.echo(json.dumps(strict_json([opportunity.to_json() for opportunity in shown])))
    elif as_csv:
        _echo_csv([opportunity.to_flat() for opportunity in shown], flat_columns())
    else:
        title = f"top {len(shown)} of {len(scan.opportunities)} pairs by net APR over {hold_hours:g} h"
        console.print(opportunities_table(shown, title))
        console.print(_excluded_note(scan.excluded, filters.allow_flags), highlight=False)


def _excluded_note(excluded: dict[str, int], allowed: frozenset[str]) -> str:
    if not excluded:
        return "no rows left out"
    counts = ", ".join(f"{reason} {count}" for reason, count in excluded.items())
    hint = ""
    flagged = [reason for reason in excluded if reason in ALLOWABLE_FLAGS and reason not in allowed]
    if flagged:
        hint = f"; --allow-flags {','.join(flagged)} takes them in, marked"
    return f"rows left out: {counts}{hint}"


def _leg_text(leg: Any) -> Text:
    """`okx BTC-USDT-SWAP` over `0.0100%/8h` (` inverse, BTC` after the rate for a coin-settled leg), as
    Text so that venue strings are never read as markup."""
    kind = f" inverse, {leg.settle}" if leg.contract_type == "inverse" else ""
    return Text(f"{leg.exchange} {leg.native_symbol}\n{_pct(leg.funding_rate)}/{leg.interval_hours:g}h{kind}")


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def opportunities_table(opportunities: Sequence[Any], title: str) -> Table:
    """Presentation only: fractions become percent here. `gap` is the short's price over the long's."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("asset", no_wrap=True)
    table.add_column("long (pays least)", overflow="fold")
    table.add_column("short (earns most)", overflow="fold")
    for column in ("spread 8h", "APR", "net APR", "fees", "b/e h", "gap", "positive h", "min OI USD"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("flags", overflow="fold")
    for o in opportunities:
        open_interest = [leg.open_interest_usd for leg in (o.long, o.short)]
        table.add_row(
            Text(o.asset),
            _leg_text(o.long),
            _leg_text(o.short),
            _pct(o.spread_per_8h),
            _pct(o.apr, 1),
            _pct(o.net_apr, 1),
            _pct(o.fees, 3),
            _hours(o.break_even_hours),
            _pct(o.price_gap, 2),
            _hours(o.persistence_hours),
            "—" if None in open_interest else _num(min(v for v in open_interest if v is not None)),
            Text(" ".join(o.flags)),
        )
    return table


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Newest cycles shown."
)
@option("db")
@option("stale_after_cycles")
@option("failure_rate_alert")
def cycles(as_json: bool, limit: int, db: str, stale_after_cycles: int, failure_rate_alert: float) -> None:
    """Collection cycles, newest first, with every venue's requests, rows and failures by kind; then
    the venues stale or failing over the last cycles."""
    store = _open_store(db, must_exist=True)
    records = store.cycles(limit)
    thresholds = HealthThresholds(stale_after_cycles, failure_rate_alert)
    health = venue_health(store.cycles(thresholds.window_cycles), thresholds)
    store.close()
    if as_json:
        click.echo(json.dumps(strict_json([record.to_json() for record in records])))
        return
    for record in records:
        console.print(
            f"[bold]cycle {record.id}[/bold] {record.status} started {iso_utc(record.started_at)} "
            f"finished {iso_utc(record.finished_at) or '—'}"
        )
        for run in record.venues:
            failures = ", ".join(f"{k} {v}" for k, v in sorted(run.failures.items())) or "no failures"
            console.print(
                f"  {run.exchange:<13} {run.status:<8} {run.rows:>5} rows {run.requests:>3} requests "
                f"{run.duration_s:6.2f} s  wait {run.gate_wait_s:.2f} s  {_limit_use(run)}{failures}",
                highlight=False,
            )
    for line in problems(health.values(), thresholds):
        console.print(f"[yellow]health[/yellow] {line}", highlight=False)


def _limit_use(run: VenueRun) -> str:
    """The venue's busiest limit as used/allowed, and its 429s and pauses when there were any."""
    parts = []
    if run.limits:
        name, (used, allowed) = max(run.limits.items(), key=lambda item: item[1][0] / max(item[1][1], 1))
        parts.append(f"{name} {used}/{allowed}")
    if run.rate_limited:
        parts.append(f"429s {run.rate_limited}")
    if run.pauses:
        parts.append(f"pauses {run.pauses}")
    return "".join(f"{part}  " for part in parts)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def exchanges(as_json: bool) -> None:
    """The implemented venues."""
    venues = [
        {
            "id": module.SPEC.id,
            "name": module.SPEC.name,
            "hosts": dict(module.SPEC.hosts),
            "endpoints": [endpoint.path for endpoint in module.SPEC.endpoints],
            "docs_url": module.SPEC.docs_url,
        }
        for module in VENUES.values()
    ]
    if as_json:
        click.echo(json.dumps(strict_json(venues)))
        return
    table = Table(title="implemented venues")
    for column in ("id", "name", "endpoints"):
        table.add_column(column)
    for venue in venues:
        table.add_row(venue["id"], venue["name"], "\n".join(venue["endpoints"]))
    console.print(table)


def _faults(pairs: Sequence[str]) -> dict[str, str]:
    from funding_finder.simulator.faults import check_fault

    faults = {}
    for pair in pairs:
        venue_id, _, kind = pair.partition("=")
        venue_id, kind = venue_id.strip().lower(), kind.strip().lower()
        if not kind:
            raise click.BadParameter(f"expected VENUE=KIND, got {pair!r}", param_hint="--fault")
        try:
            check_fault(venue_id, kind)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from exc
        faults[venue_id] = kind
    return faults


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8900,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 picks a free one).",
)
@click.option(
    "--latency-ms",
    type=NON_NEGATIVE,
    default=None,
    help="Median added latency in ms (log-normal); default ~150 ms, 0 for none.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    help="VENUE=KIND[+KIND...][@RATE] (VENUE `all` for every venue, KIND `mixed` for the transient "
    "kinds), e.g. okx=reset@0.1; kinds: see simulator/faults.py.",
)
@click.option("--seed", type=int, default=None, help="Seed of the latency draws and of the faulted requests.")
@click.option(
    "--scale",
    "scale_text",
    default="",
    help="Grow venues to realistic contract counts with synthetic SIMnnnnn clones: 'realistic', "
    "a factor (3), or VENUE=N,... (default: as recorded).",
)
def simulate(
    host: str, port: int, latency_ms: float | None, faults: tuple[str, ...], seed: int | None, scale_text: str
) -> None:
    """Serve the recorded venue responses at the venues' real paths, under their real limits."""
    from funding_finder.simulator import serve_forever
    from funding_finder.simulator.scale import parse_scale

    checked = _faults(faults)
    try:
        scale = parse_scale(scale_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scale") from exc
    try:
        serve_forever(host=host, port=port, latency_ms=latency_ms, faults=checked, seed=seed, scale=scale)
    except OSError as exc:  # the port is taken, the address is not this machine's
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


@main.command()
@option("db")
@option("exchanges")
@click.option(
    "--latency-ms",
    type=NON_NEGATIVE,
    default=None,
    help="Simulator latency median in ms (default ~150).",
)
@click.option(
    "--top", type=click.IntRange(min=1), default=15, show_default=True, help="Rows shown, highest APR first."
)
@option("log_level", default="ERROR")  # a replay: "data not moving" warnings are expected, not news
@click.option(
    "--serve",
    is_flag=True,
    help="Keep going: run the service (`run`) against the simulator, with the recorded times moved to "
    "now, and serve the dashboard until Ctrl-C.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="With --serve: port."
)
@option("every")
@option("config")
def demo(
    db: str,
    exchanges: str,
    latency_ms: float | None,
    top: int,
    log_level: str,
    serve: bool,
    host: str,
    port: int,
    every: float,
    config: str,
) -> None:
    """Offline demo: start the simulator, collect once through it, print the top of the table.

    With --serve: the simulator and the service, a cycle every --every minutes, until stopped."""
    from funding_finder.simulator import Simulator

    _setup_logging(log_level)
    venue_ids = _venue_ids(exchanges)
    if serve:
        _demo_serve(db, venue_ids, latency_ms, host, port, every, config)
        return
    store = _open_store(db)
    with Simulator(latency_ms=latency_ms) as sim:
        console.print(f"exchange simulator at {sim.url} (recorded responses, real limits)")
        config = _config(venue_ids, {venue_id: sim.venue_url(venue_id) for venue_id in venue_ids})
        try:
            result = Collector(store, venue_ids, config).run_cycle()
        except StoreError as exc:  # an unwritable database, as `collect` says it
            raise click.ClickException(str(exc)) from exc
        sim_stats = sim.stats()
    _print_cycle(result)
    rows = sort_rates(store.latest_rates(venue_ids), "apr")
    store.close()
    console.print(
        rates_table(
            rows[:top],
            title=f"top {min(top, len(rows))} of {len(rows)} contracts by APR "
            "(recorded values; old recordings are flagged stale)",
        )
    )
    violations = sim_stats.get("total_violations", 0)
    requests = sum(venue.get("requests", 0) for venue in sim_stats.get("venues", {}).values())
    console.print(f"simulator: {requests} requests, {violations} rate-limit violations")
    unrecorded = {
        venue: s["rejected"] for venue, s in sim_stats.get("venues", {}).items() if s.get("rejected")
    }
    if unrecorded:
        listed = ", ".join(f"{venue} {count}" for venue, count in unrecorded.items())
        console.print(
            f"calls with no recording to replay (answered 404, counted as http_4xx): {listed}. "
            "Those product families or lists were never recorded; the live venues answer them."
        )
    console.print(f"database: {store.url}  —  try `funding-finder rates --db {db}`")
    if violations:
        sys.exit(1)


@main.command("settings")
def settings_command() -> None:
    """Print the settings table (Markdown), as in the README."""
    click.echo(markdown_table())


@main.command()
@option("db")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (this machine).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port.")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True, help="waitress threads.")
def serve(db: str, host: str, port: int, threads: int) -> None:
    """The web dashboard and JSON API over the store (read only), served by waitress."""
    from funding_finder.metrics import metrics_blueprint
    from funding_finder.service import WebServer
    from funding_finder.web import create_app
    from funding_finder.web.warm import keep_warm

    store = _open_store(db, must_exist=True)
    app = create_app(store)
    app.register_blueprint(metrics_blueprint(store))  # /metrics, /healthz of whoever collects here
    try:
        server = _web_server(WebServer, app, host, port, threads)
        keep_warm(app)
        console.print(f"Funding Finder on {server.url}/  (API: /api/, OpenAPI: /api/openapi.json)")
        server.serve_here()
    finally:
        store.close()


def _web_server(factory: Any, app: Any, host: str, port: int, threads: int = 4) -> Any:
    """The listening server, or a usage error naming the address: a port taken, an address that is
    not this machine's, a host name that does not resolve."""
    try:
        return factory(app, host, port, threads)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # waitress: "Invalid host/port specified."
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc


# --- the service: run, demo --serve --------------------------------------------------------------


def _alert_config(path: str) -> Any:
    """The alert rules of `--config` (None without one); a bad file is a usage error (exit 2)."""
    from funding_finder.alerts import ConfigError, load_config

    if not path:
        return None
    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None


def _service_cycle(collector: Collector, stop: threading.Event, keep_full_days: float, alerter: Any) -> None:
    """One cycle of the service: collect, print, thin old snapshots, evaluate the alert rules. An
    alert evaluation that cannot read the database is logged and tried again after the next cycle."""
    _print_cycle(collector.run_cycle(stop))
    if stop.is_set():
        return
    _downsample(collector.store, keep_full_days)
    if alerter is None:
        return
    try:
        alerter.run()
    except (SQLAlchemyError, StoreError) as exc:
        log.error("alerts not evaluated, the database cannot be read: %s", exc)


def _run_service(
    collector: Collector,
    stop: threading.Event,
    *,
    every_min: float,
    keep_full_days: float,
    alerts: Any,
    host: str,
    port: int,
) -> None:
    """The collection loop on this thread and the web server (dashboard, API, /metrics, /healthz)
    on its own, until `stop`. /healthz is healthy while the last cycle ended within two periods
    and a cycle deadline."""
    from funding_finder.alerts import Alerter
    from funding_finder.metrics import metrics_blueprint, service_metrics
    from funding_finder.service import Schedule, WebServer
    from funding_finder.web import create_app
    from funding_finder.web.warm import keep_warm

    store = collector.store
    try:
        alerter = Alerter(alerts, store) if alerts is not None and alerts.rules else None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot keep the alert state in the database: {exc}") from exc
    schedule = Schedule(
        lambda: _service_cycle(collector, stop, keep_full_days, alerter),
        every_min,
        stop,
        skip=(StoreError, SQLAlchemyError),
    )
    app = create_app(store)
    app.register_blueprint(
        metrics_blueprint(
            store,
            max_age_s=2 * every_min * 60 + collector.config.cycle_deadline_s,
            collecting=lambda: schedule.state.running,
            extra=lambda: service_metrics(schedule.state, alerter.stats if alerter else None),
        )
    )
    server = _web_server(WebServer, app, host, port)
    server.start()
    keep_warm(app, stop)
    console.print(
        f"Funding Finder service on {server.url}/  (/metrics, /healthz; a cycle every {every_min:g} min "
        "at multiples past the hour, UTC; Ctrl-C stops)",
        highlight=False,
    )
    try:
        schedule.run()
    except (StoreError, SQLAlchemyError) as exc:  # at start-up only: later cycles are skipped instead
        raise click.ClickException(str(exc)) from exc
    finally:
        server.stop()


@main.command()
@option("every")
@option("db")
@option("exchanges")
@options(*COLLECTOR_SETTINGS)
@option("keep_full_days")
@option("config")
@option("log_level")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web server listens on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port (0 picks a free one).",
)
def run(
    every: float,
    db: str,
    exchanges: str,
    keep_full_days: float,
    config: str,
    log_level: str,
    host: str,
    port: int,
    **settings: Any,
) -> None:
    """The service: a collection cycle every --every minutes, at multiples past the hour (UTC), and
    the web dashboard with /metrics and /healthz, until Ctrl-C or SIGTERM.

    The first cycle runs at start. Alert rules come from --config. Exit status as `collect`'s: 130
    when stopped (the running cycle closed as `partial`), 1 when the database or port cannot be used
    at start, 2 for a bad option."""
    stop, restore = _stop_on_signals()
    try:
        _setup_logging(log_level)
        venue_ids = _venue_ids(exchanges)
        collector_config = _config(venue_ids, **settings)
        alerts = _alert_config(config)
        store = _open_store(db)
        collector = Collector(store, venue_ids, collector_config)
        _run_service(
            collector,
            stop,
            every_min=every,
            keep_full_days=keep_full_days,
            alerts=alerts,
            host=host,
            port=port,
        )
        if stop.is_set():
            _interrupted(store)
        store.close()
    finally:
        restore()


def _demo_serve(
    db: str, venue_ids: list[str], latency_ms: float | None, host: str, port: int, every: float, config: str
) -> None:
    """`demo --serve`: the simulator with recorded times moved to now, and the service against it."""
    from funding_finder.simulator.timeshift import TimeShiftedSimulator

    stop, restore = _stop_on_signals()
    try:
        alerts = _alert_config(config)
        store = _open_store(db)
        with TimeShiftedSimulator(latency_ms=latency_ms) as sim:
            console.print(
                f"exchange simulator at {sim.url} (recorded responses, times moved to now, real limits)"
            )
            collector = Collector(
                store,
                venue_ids,
                _config(venue_ids, {venue_id: sim.venue_url(venue_id) for venue_id in venue_ids}),
            )
            _run_service(
                collector, stop, every_min=every, keep_full_days=7.0, alerts=alerts, host=host, port=port
            )
        if stop.is_set():
            _interrupted(store)
        store.close()
    finally:
        restore()
