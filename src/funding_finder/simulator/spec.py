"""The shapes of what the simulator serves for one venue: routes to recordings and published limits.

Each venue module under `simulator/venues/` fills these in from the venue's documentation; nothing here
is imported from `funding_finder.exchanges`, so a wrong declaration in an adapter is caught.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from funding_finder.recordings import load_bytes

ANY = "*"  # a charge row's method or path that matches every request of the venue

Match = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class RouteKey:
    """A request the simulator answers from a recording: venue, method, path and required parameters."""

    venue: str
    method: str
    path: str
    match: Match = ()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Pool:
    """At most `capacity` units in any `window_s` seconds (sliding), per client IP.

    `scope` adds key parts, each counted separately: "endpoint" (the request path) or
    "param:<name>" (that query/body parameter's value, e.g. OKX counts IP + instId).
    """

    name: str
    capacity: int
    window_s: float
    scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class Charge:
    """A request matching `method`, `path` (template, "{x}" = one segment, or ANY) and `match`
    (parameter → required value, or None = present with any value) costs `costs` units per pool."""

    method: str
    path: str
    costs: tuple[tuple[str, int], ...]
    match: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class OverLimit:
    """What the venue answers to a request over a pool; `body(pool)` may name the pool's limit."""

    status: int
    body: Callable[[Pool], bytes]
    content_type: str = "application/json"
    retry_after: bool = False  # send Retry-After (seconds until the window frees)


@dataclass(frozen=True)
class UsageHeader:
    """A header on every venue answer: `value` is "used", "limit", "remaining" or "reset_epoch_s"."""

    name: str
    pool: str
    value: str


@dataclass(frozen=True)
class VenueLimits:
    pools: tuple[Pool, ...]
    charges: tuple[Charge, ...]
    over_limit: OverLimit
    headers: tuple[UsageHeader, ...] = ()

    def pool(self, name: str) -> Pool:
        return next(p for p in self.pools if p.name == name)


@dataclass(frozen=True)
class SimVenue:
    """Everything the simulator knows of one venue.

    `routes`: recorded answers (file names under `recordings/<venue>/`). `fallbacks`: the venue's own
    answer to a known path template with no recording ("{x}" = one segment). `empty_body`: the "empty"
    fault, the venue's envelope around no rows ("{now_ms}" is replaced by the current time).
    """

    id: str
    routes: Mapping[RouteKey, str]
    limits: VenueLimits
    empty_body: str
    fallbacks: Mapping[tuple[str, str], Reply] = field(default_factory=dict)
    handlers: Mapping[tuple[str, str], Callable[[Mapping[str, Any]], Reply | None]] = field(
        default_factory=dict
    )
    """(method, path template) → an answer computed from the request's parameters, for paged history
    endpoints that select recorded rows by time; checked before `routes`, which answer when it returns
    None (a request of the same path that is not history)."""


def fixed(body: bytes) -> Callable[[Pool], bytes]:
    """An over-limit body that does not depend on the pool crossed."""
    return lambda _pool: body


def recorded(venue: str, name: str) -> Callable[[Pool], bytes]:
    """An over-limit body replayed from a recording."""
    return fixed(load_bytes(venue, name))
