"""Every setting, declared once: name, default, help and environment variable.

The CLI options, the environment variables and the README's settings table are all generated from
`SETTINGS`, so they cannot drift apart (a test compares the README with `markdown_table()`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

DEFAULT_DB = "~/.local/share/funding-finder/funding.db"


class FiniteNumber(click.ParamType):
    """A finite number above zero (seconds, minutes), or at least zero (`above_zero=False`: latencies,
    USD bounds): negatives, NaN and infinity are usage errors."""

    name = "number"

    def __init__(
        self, above_zero: bool = True, minimum: float | None = None, maximum: float | None = None
    ) -> None:
        self.above_zero = above_zero
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number < 0 or (self.above_zero and number == 0):
            bound = "above 0" if self.above_zero else "0 or more"
            self.fail(f"{value!r} is not a finite number {bound}", param, ctx)
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            low = "" if self.minimum is None else f" from {self.minimum:g}"
            high = "" if self.maximum is None else f" up to {self.maximum:g}"
            self.fail(f"{value!r} is outside the range{low}{high}", param, ctx)
        return number


POSITIVE = FiniteNumber()
NON_NEGATIVE = FiniteNumber(above_zero=False)


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: Any = str

    @property
    def env(self) -> str:
        return f"FUNDING_FINDER_{self.name.upper()}"

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def click_option(self, default: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return click.option(
            self.option,
            self.name,
            default=self.default if default is None else default,
            envvar=self.env,
            show_default=True,
            show_envvar=True,
            type=self.type,
            help=self.help,
        )


SETTINGS: dict[str, Setting] = {
    setting.name: setting
    for setting in (
        Setting("db", DEFAULT_DB, "SQLite file path, or a database URL (postgresql://user@host/db)."),
        Setting("exchanges", "all", "Comma-separated venue ids to collect (see `funding-finder exchanges`)."),
        Setting(
            "every",
            5.0,
            "Minutes between two collection cycles (`collect` without `--once`; `run` starts them at "
            "multiples of it past the hour, UTC).",
            POSITIVE,
        ),
        Setting(
            "venue_deadline_s",
            60.0,
            "Seconds one venue may take in a cycle before it is abandoned.",
            POSITIVE,
        ),
        Setting(
            "cycle_deadline_s",
            120.0,
            "Seconds a whole cycle may take before unfinished venues are abandoned.",
            POSITIVE,
        ),
        Setting("timeout_s", 10.0, "Seconds one HTTP call may take (connect and read).", POSITIVE),
        Setting(
            "instruments_max_age_s",
            3600.0,
            "Seconds a stored instrument list is used without asking again (0: every cycle).",
            click.FloatRange(min=0),
        ),
        Setting(
            "retries",
            3,
            "Extra tries of a call after a timeout, connection error, 5xx or 429.",
            click.IntRange(min=0, max=10),
        ),
        Setting(
            "stale_after_cycles",
            3,
            "Cycles in a row without rows or with unmoving data after which a venue is reported stale.",
            click.IntRange(min=1),
        ),
        Setting(
            "failure_rate_alert",
            0.5,
            "Fraction of a venue's last 10 cycles that may fail (no rows) before it is reported failing.",
            click.FloatRange(min=0, max=1),
        ),
        Setting(
            "keep_full_days",
            7.0,
            "Days snapshots stay at full resolution; older ones keep one row per contract and hour "
            "(settled funding is kept whole).",
            POSITIVE,
        ),
        Setting(
            "config",
            "",
            "TOML file of alert rules and their webhook (`run`, `demo --serve`); none: no alerts.",
        ),
        Setting(
            "log_level",
            "WARNING",
            "Log level: DEBUG, INFO, WARNING or ERROR.",
            click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        ),
    )
}


def option(name: str, default: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click option of a declared setting; `default` overrides its default for one command."""
    return SETTINGS[name].click_option(default)


COLLECTOR_SETTINGS = ("venue_deadline_s", "cycle_deadline_s", "timeout_s", "retries", "instruments_max_age_s")
"""The settings of a collection cycle, which `collect` and `run` both take."""


def options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click options of several declared settings, listed in `--help` in the order given."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(names):
            command = option(name)(command)
        return command

    return decorate


def markdown_table() -> str:
    """The README's settings table."""
    lines = [
        "| option | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for setting in SETTINGS.values():
        default = f"`{setting.default}`" if setting.default != "" else "none"
        lines.append(f"| `{setting.option}` | `{setting.env}` | {default} | {setting.help} |")
    lines.append(
        "| — | `FUNDING_FINDER_<ID>_URL` | the venue's own host | Replaces the scheme and host of venue "
        "`<ID>` (upper case), optionally with a path prefix; endpoint paths follow unchanged. |"
    )
    return "\n".join(lines)
