"""One collection cycle: every enabled venue in parallel, each under its own gate and deadline.

The cycle fans out over venues; each venue fans out over the endpoints of its cycle. A venue's rows
and stats are written from the cycle's thread as soon as that venue finishes, in one transaction,
so an abandoned venue can never write late and a reader sees whole venues only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from funding_finder.errors import FetchError
from funding_finder.exchanges import get_venue
from funding_finder.exchanges.base import Endpoint, Role, VenueSpec
from funding_finder.fanout import FanOutResult, failure_kind, fan_out, latency_summary_ms
from funding_finder.health import HealthThresholds, problems, venue_health
from funding_finder.http import VenueClient
from funding_finder.model import FLAG_STALE, FundingRate, mark_not_live
from funding_finder.ratelimit import RateGate
from funding_finder.store import Store, StoreError, VenueRun, unstorable

log = logging.getLogger("funding_finder.collector")

BUILD_GRACE_S = 5.0
"""Seconds a venue still has after the cycle deadline (which ends its calls) to build and store the
rows of the calls that answered; only a venue stuck past that is abandoned."""


def url_overrides(venue_ids: Sequence[str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`FUNDING_FINDER_<ID>_URL` per venue (`ccxt:okx` reads `FUNDING_FINDER_CCXT_OKX_URL`): replaces
    the scheme and host of every host of that venue. A value that is not an http(s) URL of a host
    raises ValueError: a typo must not pass for a dead venue."""
    found = {}
    for venue_id in venue_ids:
        name = f"FUNDING_FINDER_{venue_id.upper().replace(':', '_')}_URL"
        value = environ.get(name)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                raise ValueError(f"{name}={value!r} is not an http(s) URL of a host (optionally with a path)")
            found[venue_id] = value
    return found


@dataclass(frozen=True)
class CollectorConfig:
    """Deadlines and call settings of a cycle (seconds)."""

    venue_deadline_s: float = 60.0
    cycle_deadline_s: float = 120.0
    timeout_s: float = 10.0
    retries: int = 3
    base_urls: Mapping[str, str] = field(default_factory=dict)
    """Venue id → replacement root for all of that venue's hosts (the simulator, a proxy)."""
    instruments_max_age_s: float = 3600.0
    """An instrument list stored less than this long ago is used without a call (an endpoint's own
    `max_age_s` overrides it); 0 asks for every list every cycle."""
    stale_after_cycles: int = HealthThresholds.stale_after_cycles
    """A venue with no rows or unmoving data this many cycles in a row is logged as stale."""
    failure_rate_alert: float = HealthThresholds.failure_rate_alert
    """A venue that failed more than this fraction of its recent cycles is logged as failing."""

    @property
    def health(self) -> HealthThresholds:
        return HealthThresholds(self.stale_after_cycles, self.failure_rate_alert)


def venue_client(venue: ModuleType, config: CollectorConfig, **sizing: Any) -> VenueClient:
    """The venue's request path with its own rate gate, at the configured URL, timeout and retries;
    a venue reached through a library (ccxt) brings its own `make_client`, a VenueClient whose calls
    go through the same gate. `sizing`: VenueClient's `pool_size` and `paced_endpoints` (backfill)."""
    spec = venue.SPEC
    override = config.base_urls.get(spec.id)
    make_client = getattr(venue, "make_client", VenueClient)
    return make_client(
        spec,
        RateGate(spec.id, spec.limits),
        base_urls=dict.fromkeys(spec.hosts, override) if override else None,
        timeout_s=config.timeout_s,
        retries=config.retries,
        **sizing,
    )


@dataclass
class VenueOutcome:
    run: VenueRun
    rows: list[FundingRate] = field(default_factory=list)
    fresh_instruments: dict[str, Any] = field(default_factory=dict)
    observed_at: datetime | None = None


@dataclass
class CycleResult:
    cycle_id: int
    status: str
    runs: list[VenueRun]
    interrupted: bool = False
    """The cycle was stopped (Ctrl-C, SIGTERM) before every venue finished."""

    @property
    def rows(self) -> int:
        return sum(run.rows for run in self.runs)


def _store_reason(exc: BaseException) -> str:
    """The database's own words ("database or disk is full"), not the statement and its parameters."""
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Collector:
    """Holds one client and gate per venue across cycles, so limits are honoured between cycles too."""

    def __init__(
        self,
        store: Store,
        venue_ids: Sequence[str | ModuleType],
        config: CollectorConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.config = config or CollectorConfig()
        modules = [get_venue(venue) if isinstance(venue, str) else venue for venue in venue_ids]
        self.venues: list[ModuleType] = list({module.SPEC.id: module for module in modules}.values())
        self.clock = clock
        self.clients = {venue.SPEC.id: venue_client(venue, self.config) for venue in self.venues}
        self._rounds: Counter[str] = Counter()
        """Per venue, how many per-instrument rounds were planned (the `cycle` a rotation reads)."""

    def run_cycle(self, stop: threading.Event | None = None) -> CycleResult:
        """Collect every venue once; records every venue's stats even when it fails.

        `stop` set (the CLI's Ctrl-C / SIGTERM handler sets it, so no exception ever lands inside a
        database write) abandons the venues still running within a tenth of a second: the venues
        already written stay, the others are recorded as `failed` with kind `interrupted`, the cycle
        is closed as `partial` and the result says `interrupted`. A KeyboardInterrupt raised in the
        caller's thread anyway is handled the same way and goes on to the caller.
        """
        cycle_id = self.store.start_cycle(_utcnow())
        started = self.clock()
        cycle_ends = started + self.config.cycle_deadline_s
        before = {venue_id: client.requests for venue_id, client in self.clients.items()}
        runs: dict[str, VenueRun] = {}

        def write(venue: ModuleType, outcome: VenueOutcome) -> None:
            runs[venue.SPEC.id] = self._write(cycle_id, outcome)

        try:
            fan = fan_out(
                self.venues,
                lambda venue: self.collect_venue(venue, cycle_ends),
                workers=len(self.venues),
                deadline_s=self.config.cycle_deadline_s + BUILD_GRACE_S,
                thread_name_prefix="venue",
                on_result=write,
                stop=stop,
            )
        except KeyboardInterrupt:
            self._record_unfinished(cycle_id, runs, {}, started, before, interrupted=True)
            self.store.finish_cycle(cycle_id, _utcnow(), "partial")
            raise
        errors = {venue.SPEC.id: exc for venue, exc in fan.errors}
        self._record_unfinished(cycle_id, runs, errors, started, before, interrupted=fan.interrupted)
        ordered = [runs[venue.SPEC.id] for venue in self.venues]
        status = "complete" if all(run.status == "ok" for run in ordered) else "partial"
        try:
            self.store.finish_cycle(cycle_id, _utcnow(), status)
        except StoreError as exc:  # the venues are written; the cycle row stays `running`
            log.error("cycle %d: could not record its end: %s", cycle_id, exc)
        self._log_health()
        return CycleResult(cycle_id, status, ordered, interrupted=fan.interrupted)

    def _log_health(self) -> None:
        """A warning per venue stale for N cycles or failing too often (`health.py`)."""
        thresholds = self.config.health
        try:
            records = self.store.cycles(thresholds.window_cycles)
        except (SQLAlchemyError, StoreError) as exc:
            log.error("venue health cannot be read: %s", _store_reason(exc))
            return
        for line in problems(venue_health(records, thresholds).values(), thresholds):
            log.warning("%s", line)

    def _record_unfinished(
        self,
        cycle_id: int,
        runs: dict[str, VenueRun],
        errors: Mapping[str, BaseException],
        started: float,
        requests_before: Mapping[str, int],
        *,
        interrupted: bool,
    ) -> None:
        """A run row for every venue that did not hand in an outcome, with what its client did."""
        for venue in self.venues:
            venue_id = venue.SPEC.id
            if venue_id in runs:
                continue
            exc = errors.get(venue_id)
            if interrupted:
                status, kind, detail = "failed", "interrupted", "interrupted (Ctrl-C or SIGTERM)"
            elif exc is not None:
                status, kind, detail = "failed", failure_kind(exc), str(exc)
            else:
                status, kind = "deadline", "deadline"
                detail = f"cycle deadline of {self.config.cycle_deadline_s:g} s passed"
            log.error("%s: %s", venue_id, detail)
            run = VenueRun(venue_id, status, failures={kind: 1}, error=detail)
            run.requests = self.clients[venue_id].requests - requests_before[venue_id]
            run.duration_s = self.clock() - started
            runs[venue_id] = self._write(cycle_id, VenueOutcome(run))

    def _write(self, cycle_id: int, outcome: VenueOutcome) -> VenueRun:
        run = outcome.run
        try:
            lists = {
                self._list_key(run.exchange, name): payload
                for name, payload in outcome.fresh_instruments.items()
            }
            self.store.write_venue(cycle_id, run, outcome.rows, lists, outcome.observed_at)
        except (SQLAlchemyError, StoreError) as exc:
            reason = _store_reason(exc)
            log.error("%s: could not store %d rows, dropped: %s", run.exchange, len(outcome.rows), reason)
            run.status, run.error = "failed", f"store: {reason}"
            run.failures = {**run.failures, "store": 1}
            try:
                self.store.write_venue(cycle_id, run, [])
            except (SQLAlchemyError, StoreError):
                log.error("%s: could not record the venue's stats either", run.exchange)
        else:
            run.rows = len({row.native_symbol for row in outcome.rows})
        return run

    def collect_venue(self, venue: ModuleType, cycle_ends: float) -> VenueOutcome:
        """Fetch one venue's endpoints, fill failed secondary lists from the store, build its rows.

        A venue with several rate endpoints (families such as linear and inverse) keeps the rows of
        those that answered, with status `partial`; it fails only when no rate payload answered. A
        venue without a bulk endpoint plans a second round of per-instrument calls from the first.
        """
        spec = venue.SPEC
        client = self.clients[spec.id]
        started = self.clock()
        deadline = min(started + self.config.venue_deadline_s, cycle_ends)
        requests_before, waited_before = client.requests, client.gate.stats.wait_s
        rate_limited_before, pauses_before = client.answers["rate_limited"], client.gate.stats.pauses
        answered_before = len(client.latencies_s)
        run = VenueRun(spec.id, "ok")
        outcome = VenueOutcome(run)

        cached = self._fresh_lists(spec)
        first = self._fetch_all(client, [e for e in spec.endpoints if e.name not in cached], deadline)
        failures: Counter[str] = Counter(first.failures)
        errors = list(first.errors)
        fetched = {endpoint.name: answer for endpoint, answer in first.results}
        payloads = {**self._payloads(spec.endpoints, fetched, outcome, cached), **cached}
        answered = [at for endpoint, (_, at) in first.results if endpoint.role is Role.RATES]
        deadline_hit = first.deadline_hit
        abandoned = list(first.abandoned)
        if spec.per_instrument is not None and not deadline_hit:
            second = self._second_round(client, spec, payloads, deadline, failures)
            if second is not None:
                errors += second.errors
                abandoned += second.abandoned
                deadline_hit = second.deadline_hit
                for endpoint, (payload, at) in second.results:
                    payloads.setdefault(endpoint.name, {})[endpoint.instrument] = payload
                    answered.append(at)

        if answered:
            outcome.observed_at = max(answered)
            self._build(venue, payloads, outcome, failures)
            lost_rates = any(endpoint.role is Role.RATES for endpoint, _ in errors) or any(
                endpoint.role is Role.RATES for endpoint in abandoned
            )
            if run.status == "ok" and lost_rates:
                run.status, run.error = "partial", _first_error(errors) or "deadline: rate calls abandoned"
        else:
            run.status = "deadline" if deadline_hit else "failed"
            run.error = _first_error(errors) or ("deadline" if deadline_hit else "no rate call could be made")
            log.error("%s: no rows this cycle: %s", spec.id, run.error)
        run.requests = client.requests - requests_before
        run.gate_wait_s = client.gate.stats.wait_s - waited_before
        run.rate_limited = client.answers["rate_limited"] - rate_limited_before
        run.pauses = client.gate.stats.pauses - pauses_before
        run.limits = client.gate.usage()
        run.duration_s = self.clock() - started
        run.failures = dict(failures)
        run.latency_ms = latency_summary_ms(client.latencies_s[answered_before:])
        return outcome

    @staticmethod
    def _fetch_all(
        client: VenueClient, endpoints: Sequence[Endpoint], deadline: float
    ) -> FanOutResult[Endpoint, tuple[Any, datetime]]:
        """The endpoints' calls in parallel, as many in flight as the venue's in-flight limit allows;
        they start in the order the gate can let them leave (`RateGate.start_order`), so that the
        quick calls are made while the paced ones (Deribit's 1-per-second lists) wait their turn."""
        order = client.gate.start_order([(endpoint.name, endpoint.instrument) for endpoint in endpoints])
        fan = fan_out(
            [endpoints[index] for index in order],
            lambda endpoint: (client.fetch(endpoint, deadline), _utcnow()),
            workers=client.concurrency.allowed,
            deadline_s=max(0.0, deadline - client.clock()),
            thread_name_prefix=client.spec.id,
        )
        log.info(
            "%s: %d calls, at most %d in flight (in-flight limit now %.1f of a pool of %d)",
            client.spec.id,
            len(endpoints),
            fan.peak_in_flight,
            client.concurrency.limit,
            client.concurrency.pool_size,
        )
        return fan

    def _second_round(
        self,
        client: VenueClient,
        spec: VenueSpec,
        payloads: Mapping[str, Any],
        deadline: float,
        failures: Counter[str],
    ) -> FanOutResult[Endpoint, tuple[Any, datetime]] | None:
        """The per-instrument calls a venue plans from its first round's payloads, fetched in parallel."""
        try:
            calls = spec.per_instrument(payloads, self._rounds[spec.id])
            self._rounds[spec.id] += 1
        except FetchError as exc:
            failures[exc.kind] += 1
            log.error("%s", exc)
            return None
        second = self._fetch_all(client, calls, deadline)
        failures.update(second.failures)
        return second

    def _list_key(self, venue_id: str, endpoint: str) -> str:
        """The store key of an instrument list: its endpoint and the URL it came from, so that a list
        recorded from the simulator (or another proxy) never stands in for the live venue's."""
        client = self.clients[venue_id]
        url = client.url_of(client.spec.endpoint(endpoint))
        return f"{endpoint}@{hashlib.sha1(url.encode()).hexdigest()[:12]}"

    def _stored_list(self, venue_id: str, endpoint: str) -> tuple[Any, datetime] | None:
        """The stored copy of an instrument list from the same URL; None, with a log line, if the
        store cannot be read."""
        try:
            return self.store.stored_instruments(venue_id, self._list_key(venue_id, endpoint))
        except (SQLAlchemyError, StoreError) as exc:
            log.error("%s %s: the stored list cannot be read: %s", venue_id, endpoint, exc)
            return None

    def _is_live(self, venue_id: str, rows: Sequence[FundingRate]) -> bool | None:
        """`venue_is_live` against the venue's stored rows; None (unknown) if the store cannot be read."""
        try:
            previous = self.store.latest_rates([venue_id])
        except (SQLAlchemyError, StoreError) as exc:
            log.error("%s: previous rows cannot be read, liveness unknown: %s", venue_id, exc)
            return None
        return venue_is_live(rows, previous)

    def _fresh_lists(self, spec: VenueSpec) -> dict[str, Any]:
        """The instrument lists stored recently enough to be used without asking the venue again."""
        fresh = {}
        now = _utcnow()
        for endpoint in spec.endpoints:
            if endpoint.role is not Role.INSTRUMENTS:
                continue
            max_age_s = (
                self.config.instruments_max_age_s if endpoint.max_age_s is None else endpoint.max_age_s
            )
            if max_age_s <= 0:
                continue
            stored = self._stored_list(spec.id, endpoint.name)
            if stored is not None and (now - stored[1]).total_seconds() < max_age_s:
                fresh[endpoint.name] = stored[0]
        return fresh

    def _payloads(
        self,
        endpoints: Sequence[Endpoint],
        fetched: Mapping[str, tuple[Any, datetime]],
        outcome: VenueOutcome,
        cached: Mapping[str, Any],
    ) -> dict[str, Any]:
        payloads: dict[str, Any] = {}
        venue_id = outcome.run.exchange
        for endpoint in endpoints:
            if endpoint.name in cached:
                continue
            if endpoint.name in fetched:
                payloads[endpoint.name] = fetched[endpoint.name][0]
                if endpoint.role is Role.INSTRUMENTS:
                    outcome.fresh_instruments[endpoint.name] = payloads[endpoint.name]
            elif endpoint.role is Role.INSTRUMENTS:
                stored = self._stored_list(venue_id, endpoint.name)
                payloads[endpoint.name] = stored[0] if stored else None
                log.warning(
                    "%s %s failed; %s",
                    venue_id,
                    endpoint.name,
                    f"using the list stored at {stored[1]:%Y-%m-%d %H:%M}Z"
                    if stored
                    else "no stored list: rows flagged unfiltered",
                )
            else:
                payloads[endpoint.name] = None
        return payloads

    def _build(
        self, venue: ModuleType, payloads: dict[str, Any], outcome: VenueOutcome, failures: Counter[str]
    ) -> None:
        run = outcome.run
        try:
            built = venue.build_rows(payloads, outcome.observed_at)
            if built.unusable:
                # A secondary payload of the wrong shape counts as that call's failure: it is never
                # kept as the fallback list, and a stored list stands in for it where there is one.
                failures["bad_payload"] += len(built.unusable)
                replaced = self._replace_unusable(built.unusable, payloads, outcome)
                if replaced:
                    built = venue.build_rows(payloads, outcome.observed_at)
        except FetchError as exc:
            failures[exc.kind] += 1
            run.status, run.error = "failed", str(exc)
            log.error("%s", exc)
            return
        except Exception as exc:  # a parser bug must cost this venue only, never the cycle
            failures["error"] += 1
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("%s: building rows failed", run.exchange)
            return
        if built.bad_rows:
            failures["bad_row"] += built.bad_rows
        outcome.rows = self._storable(run.exchange, built.rows, failures)
        if outcome.rows:
            run.live = self._is_live(run.exchange, outcome.rows)
            if run.live is False:
                log.warning(
                    "%s: data not moving (settled in the past or unchanged); rows flagged stale", run.exchange
                )
                outcome.rows = [mark_not_live(row) for row in outcome.rows]

    @staticmethod
    def _storable(exchange: str, rows: list[FundingRate], failures: Counter[str]) -> list[FundingRate]:
        """The rows the database can hold; each other one is a counted `bad_row` with a log line."""
        kept = []
        for row in rows:
            reason = unstorable(row)
            if reason is None:
                kept.append(row)
                continue
            failures["bad_row"] += 1
            log.warning(
                "%s: skipped a row the database cannot hold (%s): %.80r", exchange, reason, row.native_symbol
            )
        return kept

    def _replace_unusable(self, unusable: set[str], payloads: dict[str, Any], outcome: VenueOutcome) -> bool:
        """Drop unusable fresh instrument lists and put the stored copy in their place; True if any was."""
        replaced = False
        for name in unusable:
            if outcome.fresh_instruments.pop(name, None) is None:
                continue
            stored = self._stored_list(outcome.run.exchange, name)
            if stored is not None:
                payloads[name], replaced = stored[0], True
        return replaced


def venue_is_live(rows: Sequence[FundingRate], previous: Sequence[FundingRate]) -> bool:
    """False when a venue's data stopped moving (CoinEx after its cessation, a frozen API, a replay).

    Either every row's settlement time is already past (every row `stale`), or every contract repeats
    its previous stored observation unchanged: rate, settlement time, mark and index price. A live
    market moves its mark prices between two cycles minutes apart.
    """
    if all(FLAG_STALE in row.flags for row in rows):
        return False
    before = {row.native_symbol: row for row in previous}
    return not all(_unchanged(row, before.get(row.native_symbol)) for row in rows)


def _unchanged(row: FundingRate, earlier: FundingRate | None) -> bool:
    if earlier is None or earlier.observed_at >= row.observed_at:
        return False
    fields = ("funding_rate", "next_funding_time", "mark_price", "index_price")
    return all(getattr(row, name) == getattr(earlier, name) for name in fields)


def _first_error(errors: Sequence[tuple[Endpoint, BaseException]]) -> str | None:
    """The first failure of a rate endpoint (else of any endpoint), for the venue run's `error`."""
    for endpoint, exc in errors:
        if endpoint.role is Role.RATES:
            return str(exc)
    return str(errors[0][1]) if errors else None
