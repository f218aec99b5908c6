"""Alerts: rules from a TOML file, evaluated after each cycle, delivered to the log and a webhook.

Three kinds of rule (any number of each):

- `[[net_apr]]`: the best carry pair of an asset (`arbitrage.find_opportunities`) has a net APR
  above `above` (a fraction per year, 0.3 = 30 %) over `hold_hours` (default 168).
  `asset` (optional): only that asset; `exchanges` (optional): legs only on these venues.
- `[[failure_rate]]`: more than `above_pct` % of a venue's runs in the last `cycles` cycles (default
  12) brought no rows (`failed` or `deadline`). `venue` (optional): only that venue.
- `[[stale]]`: a venue has had no live rows for at least `minutes` (no run with rows whose data
  moved, see `collector.venue_is_live`). `venue` (optional): only that venue.

`[webhook]` `url` (optional) receives one JSON POST per alert (`status` `firing`, then `resolved`),
with a timeout of `timeout_s` (default 5). A standing condition alerts once until it clears. The
conditions alerted are kept in the `alert_state` table of the same database, so a restart does not
alert them again; a firing alert whose POST failed is posted again at the next evaluation (the log
has it already), and once a POST failed the evaluation's other POSTs wait for the next one, so a dead
webhook costs at most one timeout per cycle. A failing webhook is logged and counted, never raised;
a `resolved` notice is posted once.
"""

from __future__ import annotations

import logging
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import BigInteger, Boolean, Column, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy import update as sql_update

from funding_finder.arbitrage import Filters, find_opportunities
from funding_finder.health import HealthThresholds, venue_health
from funding_finder.model import iso_utc, strict_json
from funding_finder.store import Store
from funding_finder.store import cycles as cycles_table
from funding_finder.store import venue_runs as runs_table

log = logging.getLogger("funding_finder.alerts")

"""Venue-run statuses that brought no rows: what the failure rate counts."""

state_metadata = MetaData()
alert_state = Table(
    "alert_state",
    state_metadata,
    Column("key", String(255), primary_key=True),
    Column("rule", String(32), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("since_ms", BigInteger, nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("message", Text, nullable=False),
)
"""The conditions alerted and not cleared yet: `delivered` once the webhook (if any) took it."""


class ConfigError(ValueError):
    """The alert config cannot be used: unreadable, not TOML, or a rule with a bad field."""


@dataclass(frozen=True)
class NetAprRule:
    above: float
    """Net APR threshold, a fraction per year."""
    asset: str | None = None
    hold_hours: float = 168.0
    exchanges: frozenset[str] | None = None


@dataclass(frozen=True)
class FailureRateRule:
    above_pct: float
    """Percent of the venue's runs in the window that brought no rows."""
    cycles: int = 12
    venue: str | None = None


@dataclass(frozen=True)
class StaleRule:
    minutes: float
    """Minutes without live rows."""
    venue: str | None = None


Rule = NetAprRule | FailureRateRule | StaleRule


@dataclass(frozen=True)
class AlertConfig:
    rules: tuple[Rule, ...] = ()
    webhook_url: str | None = None
    webhook_timeout_s: float = 5.0


@dataclass(frozen=True)
class Condition:
    """One standing condition: `key` names rule and subject, so it is alerted once. `value` and
    `threshold` are in the rule's unit: net APR as a fraction per year, failure rate in percent,
    staleness in minutes."""

    key: str
    rule: str
    subject: str
    message: str
    value: float
    threshold: float
    details: Mapping[str, Any] = field(default_factory=dict)


# --- configuration -------------------------------------------------------------------------------


def _number(table: Mapping[str, Any], name: str, where: str, *, default: float | None = None) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: `{name}` must be a finite number, got {value!r}")
    return float(value)


def _text(table: Mapping[str, Any], name: str, where: str) -> str | None:
    value = table.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"{where}: `{name}` must be a non-empty string, got {value!r}")
    return value.strip() if value is not None else None


def _known_fields(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def _net_apr(table: Mapping[str, Any], where: str) -> NetAprRule:
    _known_fields(table, ("above", "asset", "hold_hours", "exchanges"), where)
    hold_hours = _number(table, "hold_hours", where, default=168.0)
    if hold_hours <= 0:
        raise ConfigError(f"{where}: `hold_hours` must be above 0, got {hold_hours}")
    exchanges = table.get("exchanges")
    if exchanges is not None and (
        not isinstance(exchanges, list) or not all(isinstance(v, str) and v for v in exchanges)
    ):
        raise ConfigError(f"{where}: `exchanges` must be a list of venue ids, got {exchanges!r}")
    asset = _text(table, "asset", where)
    return NetAprRule(
        above=_number(table, "above", where),
        asset=asset.upper() if asset else None,
        hold_hours=hold_hours,
        exchanges=frozenset(v.lower() for v in exchanges) if exchanges else None,
    )


def _failure_rate(table: Mapping[str, Any], where: str) -> FailureRateRule:
    _known_fields(table, ("above_pct", "cycles", "venue"), where)
    above_pct = _number(table, "above_pct", where)
    cycles = table.get("cycles", 12)
    if isinstance(cycles, bool) or not isinstance(cycles, int) or not 1 <= cycles <= 10_000:
        raise ConfigError(f"{where}: `cycles` must be a whole number from 1 to 10000, got {cycles!r}")
    if not 0 <= above_pct < 100:
        raise ConfigError(f"{where}: `above_pct` must be from 0 to below 100, got {above_pct}")
    venue = _text(table, "venue", where)
    return FailureRateRule(above_pct=above_pct, cycles=cycles, venue=venue.lower() if venue else None)


def _stale(table: Mapping[str, Any], where: str) -> StaleRule:
    _known_fields(table, ("minutes", "venue"), where)
    minutes = _number(table, "minutes", where)
    if minutes <= 0:
        raise ConfigError(f"{where}: `minutes` must be above 0, got {minutes}")
    venue = _text(table, "venue", where)
    return StaleRule(minutes=minutes, venue=venue.lower() if venue else None)


PARSERS: dict[str, Callable[[Mapping[str, Any], str], Rule]] = {
    "net_apr": _net_apr,
    "failure_rate": _failure_rate,
    "stale": _stale,
}


def parse_config(document: Mapping[str, Any], source: str = "config") -> AlertConfig:
    """The alert config of a parsed TOML document; ConfigError names the table and field at fault."""
    _known_fields(document, (*PARSERS, "webhook"), source)
    rules: list[Rule] = []
    for kind, parse in PARSERS.items():
        tables = document.get(kind, [])
        if not isinstance(tables, list):
            raise ConfigError(f"{source}: `{kind}` must be an array of tables ([[{kind}]])")
        rules.extend(parse(table, f"{source} [[{kind}]] #{n + 1}") for n, table in enumerate(tables))
    webhook = document.get("webhook", {})
    if not isinstance(webhook, dict):
        raise ConfigError(f"{source}: `webhook` must be a table ([webhook])")
    where = f"{source} [webhook]"
    _known_fields(webhook, ("url", "timeout_s"), where)
    url = _text(webhook, "url", where)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: `url` must be an http(s) URL, got {url!r}")
    timeout_s = _number(webhook, "timeout_s", where, default=5.0)
    if timeout_s <= 0:
        raise ConfigError(f"{where}: `timeout_s` must be above 0, got {timeout_s}")
    return AlertConfig(tuple(rules), url, timeout_s)


def load_config(path: str | Path) -> AlertConfig:
    try:
        with open(Path(path).expanduser(), "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the config {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(document, str(path))


# --- evaluation ----------------------------------------------------------------------------------


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2f} %"


def net_apr_conditions(rule: NetAprRule, store: Store) -> list[Condition]:
    scan = find_opportunities(
        store.latest_rates(), hold_hours=rule.hold_hours, filters=Filters(exchanges=rule.exchanges)
    )
    found = []
    for o in scan.opportunities:
        if (rule.asset is not None and o.asset.upper() != rule.asset) or not o.net_apr > rule.above:
            continue
        found.append(
            Condition(
                key=f"net_apr>{rule.above:g}@{rule.hold_hours:g}h:{o.asset}",
                rule="net_apr",
                subject=o.asset,
                message=(
                    f"{o.asset}: net APR {_pct(o.net_apr)} over {rule.hold_hours:g} h "
                    f"above {_pct(rule.above)} (long {o.long.exchange} {o.long.native_symbol}, "
                    f"short {o.short.exchange} {o.short.native_symbol})"
                ),
                value=o.net_apr,
                threshold=rule.above,
                details={
                    "long": {"exchange": o.long.exchange, "native_symbol": o.long.native_symbol},
                    "short": {"exchange": o.short.exchange, "native_symbol": o.short.native_symbol},
                    "hold_hours": rule.hold_hours,
                    "apr": o.apr,
                },
            )
        )
    return found


def failure_rate_conditions(rule: FailureRateRule, store: Store) -> list[Condition]:
    """The venues whose runs brought no rows in more than `above_pct` % of the last `cycles` finished
    cycles: the rate `health.venue_health` counts for the health page."""
    recent = store.cycles(rule.cycles, finished_only=True)
    found = []
    for venue, health in venue_health(recent, HealthThresholds(window_cycles=rule.cycles)).items():
        if rule.venue is not None and venue != rule.venue:
            continue
        rate_pct = 100 * health.failure_rate
        if rate_pct > rule.above_pct:
            found.append(
                Condition(
                    key=f"failure_rate>{rule.above_pct:g}%/{rule.cycles}:{venue}",
                    rule="failure_rate",
                    subject=venue,
                    message=(
                        f"{venue}: {health.failed_runs} of its last {health.runs} runs brought no rows "
                        f"({rate_pct:.0f} %, above {rule.above_pct:g} %)"
                    ),
                    value=rate_pct,
                    threshold=rule.above_pct,
                    details={"failed_runs": health.failed_runs, "runs": health.runs},
                )
            )
    return found


def venue_liveness(store: Store) -> dict[str, tuple[datetime, datetime | None]]:
    """Per venue of the newest finished cycle: (when it was first collected, when it last brought
    live rows, or None) — cycle start times.

    Two small queries per venue, each read along the (cycle_id, exchange) key from one end and
    stopped at the first match, so a long history is not scanned while the venue is live."""
    newest = store.cycles(1, finished_only=True)
    if not newest:
        return {}
    runs = runs_table.c
    started = select(cycles_table.c.started_at_ms).where(cycles_table.c.id == runs.cycle_id)
    found = {}
    with store.engine.connect() as conn:
        for run in newest[0].venues:
            mine = select(started.scalar_subquery()).where(runs.exchange == run.exchange)
            first_ms = conn.execute(mine.order_by(runs.cycle_id).limit(1)).scalar()
            live = mine.where(runs.rows > 0, runs.live.is_not(False)).order_by(runs.cycle_id.desc())
            live_ms = conn.execute(live.limit(1)).scalar()
            if first_ms is not None:
                found[run.exchange] = (_dt(first_ms), _dt(live_ms) if live_ms is not None else None)
    return found


def _dt(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def stale_conditions(rule: StaleRule, store: Store, now: datetime) -> list[Condition]:
    found = []
    for venue, (first_seen, last_live) in sorted(venue_liveness(store).items()):
        if rule.venue is not None and venue != rule.venue:
            continue
        since = last_live or first_seen
        minutes = (now - since).total_seconds() / 60
        if minutes >= rule.minutes:
            last = f"last live rows at {iso_utc(last_live)}" if last_live else "no live rows yet"
            found.append(
                Condition(
                    key=f"stale>={rule.minutes:g}min:{venue}",
                    rule="stale",
                    subject=venue,
                    message=f"{venue}: no live data for {minutes:.0f} min ({last})",
                    value=minutes,
                    threshold=rule.minutes,
                    details={"last_live": iso_utc(last_live), "first_seen": iso_utc(first_seen)},
                )
            )
    return found


def evaluate(rules: Iterable[Rule], store: Store, now: datetime) -> dict[str, Condition]:
    """Every standing condition of the rules against the store, by key."""
    found: list[Condition] = []
    for rule in rules:
        if isinstance(rule, NetAprRule):
            found.extend(net_apr_conditions(rule, store))
        elif isinstance(rule, FailureRateRule):
            found.extend(failure_rate_conditions(rule, store))
        else:
            found.extend(stale_conditions(rule, store, now))
    return {condition.key: condition for condition in found}


# --- delivery ------------------------------------------------------------------------------------


@dataclass
class AlertStats:
    """Counts of this process, for /metrics."""

    fired: int = 0
    resolved: int = 0
    webhook_posts: int = 0
    webhook_failures: int = 0
    webhook_deferred: int = 0
    """POSTs not tried because an earlier one of the same evaluation failed (tried again later)."""


@dataclass(frozen=True)
class Standing:
    rule: str
    subject: str
    since: datetime
    delivered: bool
    message: str


class Alerter:
    """Evaluates the rules, alerts the new conditions once, and notes those that cleared.

    `post(url, json=..., timeout=...)` is `requests.post` unless given; `now` the UTC clock.
    """

    def __init__(
        self,
        config: AlertConfig,
        store: Store,
        *,
        post: Callable[..., Any] = requests.post,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.store = store
        self.post = post
        self.now = now
        self.stats = AlertStats()
        self._webhook_failed = False
        state_metadata.create_all(store.engine)

    def standing(self) -> dict[str, Standing]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(alert_state)).mappings().all()
        return {
            row["key"]: Standing(
                row["rule"], row["subject"], _dt(row["since_ms"]), row["delivered"], row["message"]
            )
            for row in rows
        }

    def run(self) -> tuple[list[Condition], list[str]]:
        """One evaluation: (conditions that fired now, keys that cleared). Database errors propagate
        (the caller logs them and tries at the next cycle); webhook errors never do."""
        now = self.now()
        self._webhook_failed = False
        deferred_before = self.stats.webhook_deferred
        active = evaluate(self.config.rules, self.store, now)
        before = self.standing()
        fired = [condition for key, condition in active.items() if key not in before]
        cleared = [key for key in before if key not in active]
        for condition in fired:
            log.warning("alert: %s", condition.message)
            self.stats.fired += 1
            delivered = self._deliver(self._payload("firing", condition, now))
            self._insert(condition, now, delivered)
        for key, condition in active.items():
            if key in before and not before[key].delivered:
                payload = self._payload("firing", condition, before[key].since)
                if self._deliver(payload):
                    self._set_delivered(key)
        for key in cleared:
            log.warning("alert resolved: %s", before[key].message)
            self.stats.resolved += 1
            if before[key].delivered:
                self._deliver(self._resolved_payload(key, before[key], now))
            self._delete(key)
        if self.stats.webhook_deferred > deferred_before:
            log.error(
                "alert webhook failing: %d more alert(s) not posted, tried again at the next evaluation",
                self.stats.webhook_deferred - deferred_before,
            )
        return fired, cleared

    def _payload(self, status: str, condition: Condition, since: datetime) -> dict[str, Any]:
        return {
            "status": status,
            "key": condition.key,
            "rule": condition.rule,
            "subject": condition.subject,
            "message": condition.message,
            "value": condition.value,
            "threshold": condition.threshold,
            "since": iso_utc(since),
            "details": dict(condition.details),
        }

    def _resolved_payload(self, key: str, standing: Standing, now: datetime) -> dict[str, Any]:
        return {
            "status": "resolved",
            "key": key,
            "rule": standing.rule,
            "subject": standing.subject,
            "message": f"resolved: {standing.message}",
            "since": iso_utc(standing.since),
            "resolved_at": iso_utc(now),
        }

    def _deliver(self, payload: dict[str, Any]) -> bool:
        """POST to the webhook; True when it answered 2xx (or none is configured). After a failure
        the evaluation's other POSTs are deferred, so a dead webhook costs one timeout per cycle."""
        url = self.config.webhook_url
        if url is None:
            return True
        if self._webhook_failed:
            self.stats.webhook_deferred += 1
            return False
        self.stats.webhook_posts += 1
        try:
            answer = self.post(url, json=strict_json(payload), timeout=self.config.webhook_timeout_s)
            answer.raise_for_status()
        except requests.RequestException as exc:
            self.stats.webhook_failures += 1
            self._webhook_failed = True
            log.error("alert webhook %s failed for %s: %s", url, payload["key"], exc)
            return False
        return True

    def _insert(self, condition: Condition, now: datetime, delivered: bool) -> None:
        values = {
            "key": condition.key,
            "rule": condition.rule,
            "subject": condition.subject,
            "since_ms": round(now.timestamp() * 1000),
            "delivered": delivered,
            "message": condition.message,
        }
        with self.store.engine.begin() as conn:
            conn.execute(insert(alert_state).values(**values))

    def _set_delivered(self, key: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(sql_update(alert_state).where(alert_state.c.key == key).values(delivered=True))

    def _delete(self, key: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(delete(alert_state).where(alert_state.c.key == key))
