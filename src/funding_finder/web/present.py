"""Presentation only: fractions become percent here (and in the chart script), never in the data.
Jinja filters registered on the app; every one returns plain text, which the templates escape."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from funding_finder.model import iso_utc


def pct(value: float | None, digits: int = 4) -> str:
    """A fraction as a percent: 0.0001 → `0.0100%`; unknown → an em dash."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def signed_class(value: float | None) -> str:
    """CSS class of a number's sign, so that positive and negative funding read at a glance."""
    if value is None or value == 0:
        return "zero"
    return "pos" if value > 0 else "neg"


def usd(value: float | None) -> str:
    """US dollars, short: `$1.23B`, `$45.6M`, `$789K`, `$12`."""
    if value is None:
        return "—"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"${value / size:.3g}{suffix}"
    return f"${value:.0f}"


def price(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.6g}"


def hours(value: float | None) -> str:
    """A number of hours: `8 h`, `1.5 h`; unknown → em dash."""
    return "—" if value is None else f"{value:,.1f} h" if value % 1 else f"{value:,.0f} h"


def utc(moment: datetime | None) -> str:
    """`2026-07-04 16:00:00 UTC`."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(seconds: float | None) -> str:
    """A duration in seconds as `42 s`, `5 min`, `3.2 h`, `4.1 d`."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def install(app: Flask) -> None:
    app.jinja_env.filters.update(
        pct=pct, sign=signed_class, usd=usd, price=price, hours=hours, utc=utc, iso=iso_utc, age=age
    )
    app.jinja_env.autoescape = True  # every template, whatever its name
