"""What the simulator answers: each venue's real API paths mapped to recordings shipped in the package.

The tables are gathered from the venue modules under `simulator/venues/` (one file per venue).
`ROUTES` maps (venue, method, path, required parameters) to a recording file name under
`funding_finder.recordings/<venue>/`; the recorded bytes are served unchanged. Parameters are the query
string of a GET or the top-level fields of a POST's JSON body. A parameter named by any route of a path
must match exactly (absent where the route does not name it); parameters no route names are ignored.
`FALLBACKS` hold the venue's own answer to a known path with no recording (an unknown instrument and
the like); anything else is a 404 naming the venue and path. Adding a venue is adding one module there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from funding_finder.simulator.spec import Match, Reply, RouteKey
from funding_finder.simulator.venues import all_venues

__all__ = ["EMPTY_BODIES", "FALLBACKS", "HANDLERS", "ROUTES", "VENUES", "Match", "Reply", "RouteKey"]

_SIM_VENUES = all_venues()

ROUTES: dict[RouteKey, str] = {key: name for venue in _SIM_VENUES for key, name in venue.routes.items()}

FALLBACKS: dict[tuple[str, str, str], Reply] = {
    (venue.id, method, template): reply
    for venue in _SIM_VENUES
    for (method, template), reply in venue.fallbacks.items()
}
"""(venue, method, path template) → the venue's answer when no route matches. "{x}" is one segment."""

HANDLERS: dict[tuple[str, str, str], Any] = {
    (venue.id, method, path): handler
    for venue in _SIM_VENUES
    for (method, path), handler in venue.handlers.items()
}
"""(venue, method, path template) → a function of the request's parameters returning the Reply, or None
when the request is not its own (a POST /info of another `type`); "{x}" in a template is one segment,
passed to the function as parameter `x`."""

EMPTY_BODIES: dict[str, str] = {venue.id: venue.empty_body for venue in _SIM_VENUES}
"""The "empty" fault: HTTP 200 with the venue's envelope around an empty row list."""

VENUES: tuple[str, ...] = tuple(venue.id for venue in _SIM_VENUES)


def path_matches(template: str, path: str) -> bool:
    """True when `path` fits `template`, where a "{name}" segment stands for one non-empty segment."""
    want, got = template.split("/"), path.split("/")
    if len(want) != len(got):
        return False
    return all(w == g or (w[:1] == "{" and w[-1:] == "}" and g) for w, g in zip(want, got, strict=True))


def params_match(match: Match, params: Mapping[str, Any]) -> bool:
    """Every (name, value) of `match` is in `params`; a value of None only requires presence."""
    return all(name in params and (value is None or params[name] == value) for name, value in match)


def find_route(venue: str, method: str, path: str, params: Mapping[str, Any]) -> RouteKey | None:
    candidates = [k for k in ROUTES if (k.venue, k.method, k.path) == (venue, method, path)]
    names = {name for key in candidates for name, _ in key.match}
    for key in candidates:
        wanted = dict(key.match)
        if all(params.get(name) == wanted.get(name) for name in names):
            return key
    return None


def find_handler(
    venue: str, method: str, path: str, handlers: Mapping[tuple[str, str, str], Any] = HANDLERS
) -> Any | None:
    """The handler of this request path among `handlers` (the simulator's, scaled venues included),
    called with the request's parameters plus the path template's segments
    (`/v4/historicalFunding/{ticker}` gives `ticker`); None when no handler covers the path."""
    for (v, m, template), handler in handlers.items():
        if (v, m) == (venue, method) and path_matches(template, path):
            segments = {
                want[1:-1]: got
                for want, got in zip(template.split("/"), path.split("/"), strict=True)
                if want[:1] == "{" and want[-1:] == "}"
            }
            return (lambda params, h=handler, s=segments: h({**params, **s})) if segments else handler
    return None


def find_fallback(venue: str, method: str, path: str) -> Reply | None:
    for (v, m, template), reply in FALLBACKS.items():
        if (v, m) == (venue, method) and path_matches(template, path):
            return reply
    return None
