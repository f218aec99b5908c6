"""Query parameters, checked before anything reads the store: a bad one is a `BadParameter` (HTTP 400
with a JSON body naming it), never a 500 and never an unbounded read.

Every reader takes the request's `args` (a multidict of strings) and returns a typed value or the
default. Numbers must be finite; `limit` is bounded by `MAX_LIMIT`; times are ISO-8601 (a date, or a
date and time; without an offset they are UTC).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

MAX_LIMIT = 1000
"""The most items one API page returns."""
MAX_OFFSET = 10_000_000
"""An offset beyond any real table; larger ones are refused rather than passed to the database."""


class BadParameter(ValueError):
    """A query parameter that cannot be used; `name` is the parameter, the message says why."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def _raw(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    return str(value)


def integer(args: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    """An integer in [low, high]."""
    raw = _raw(args, name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadParameter(name, f"expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadParameter(name, f"must be between {low} and {high}, got {value}")
    return value


def number(
    args: Mapping[str, Any],
    name: str,
    default: float | None,
    low: float | None = None,
    high: float | None = None,
) -> float | None:
    """A finite number, optionally in [low, high]."""
    raw = _raw(args, name)
    if raw is None:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise BadParameter(name, f"expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise BadParameter(name, f"expected a finite number, got {raw!r}")
    if low is not None and value < low:
        bound = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise BadParameter(name, f"must be {bound}, got {value:g}")
    if high is not None and value > high:
        bound = f"at most {high:g}" if low is None else f"between {low:g} and {high:g}"
        raise BadParameter(name, f"must be {bound}, got {value:g}")
    return value


def choice(args: Mapping[str, Any], name: str, default: str, choices: Collection[str]) -> str:
    """One of `choices` (exact, lower case)."""
    raw = _raw(args, name)
    if raw is None:
        return default
    if raw not in choices:
        raise BadParameter(name, f"expected one of {', '.join(sorted(choices))}, got {raw!r}")
    return raw


def boolean(args: Mapping[str, Any], name: str) -> bool:
    """`true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`; absent is false."""
    raw = _raw(args, name)
    if raw is None:
        return False
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise BadParameter(name, f"expected true or false, got {raw!r}")


def names(
    args: Mapping[str, Any], name: str, allowed: Collection[str] | None = None
) -> frozenset[str] | None:
    """A comma-separated list (lower-cased venue ids, flags); None when absent. With `allowed`, every
    name must be one of them."""
    raw = _raw(args, name)
    if raw is None:
        return None
    found = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    if allowed is not None:
        unknown = sorted(found - set(allowed))
        if unknown:
            raise BadParameter(name, f"unknown {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")
    return found or None


def text(args: Mapping[str, Any], name: str, max_length: int = 128) -> str | None:
    """A free string (a symbol, an asset), at most `max_length` characters."""
    raw = _raw(args, name)
    if raw is not None and len(raw) > max_length:
        raise BadParameter(name, f"at most {max_length} characters")
    return raw


def moment(args: Mapping[str, Any], name: str) -> datetime | None:
    """An ISO-8601 date or date-time (`2026-07-01`, `2026-07-01T08:00:00Z`), as aware UTC."""
    raw = _raw(args, name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise BadParameter(name, f"expected an ISO-8601 date or time, got {raw!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1970 <= value.year <= 9000:
        raise BadParameter(name, f"out of range: {raw!r}")
    return value.astimezone(UTC)


def page(args: Mapping[str, Any], default_limit: int, max_limit: int = MAX_LIMIT) -> tuple[int, int]:
    """(limit, offset): `limit` in [1, max_limit], `offset` in [0, MAX_OFFSET]."""
    return (
        integer(args, "limit", default_limit, 1, max_limit),
        integer(args, "offset", 0, 0, MAX_OFFSET),
    )


def taker_fees(args: Any, name: str = "taker_fee") -> dict[str, float]:
    """Repeatable `taker_fee=okx:0.0002`: a venue's taker fee, a fraction per trade in [0, 0.1)."""
    fees = {}
    for raw in args.getlist(name) if hasattr(args, "getlist") else []:
        venue_id, _, value = str(raw).partition(":")
        try:
            fee = float(value)
        except ValueError:
            fee = math.nan
        if not venue_id.strip() or not math.isfinite(fee) or not 0 <= fee < 0.1:
            raise BadParameter(name, f"expected VENUE:FRACTION with 0 <= FRACTION < 0.1, got {raw!r}")
        fees[venue_id.strip().lower()] = fee
    return fees


def only_known(args: Mapping[str, Any], known: Collection[str]) -> None:
    """Refuse a parameter the route does not take (a typo would otherwise be silently ignored)."""
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise BadParameter(unknown[0], f"not a parameter of this route; it takes {', '.join(sorted(known))}")
