"""What the simulated history endpoints share: recorded rows selected by time and count, as venues do.

Each venue module under `simulator/venues/` writes its own handler (its parameter names, defaults,
order and envelope come from its documentation); the selection and the parameter reading are here once.
A handler answers HTTP 200 with the recording's own envelope around the selected rows, or the venue's
error for a bad parameter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from funding_finder.recordings import load_json
from funding_finder.simulator.spec import Reply

Row = dict[str, Any]


class BadParameter(ValueError):
    """A request parameter the venue would refuse (not a number, out of its documented range)."""


def whole(params: Mapping[str, Any], name: str, default: int, low: int = 0, high: int = 2**62) -> int:
    """The integer parameter `name` (query text or JSON number), `default` when absent; BadParameter
    when it is not an integer in [low, high]."""
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadParameter(f"{name} is not an integer: {value!r}") from None
    if not low <= number <= high:
        raise BadParameter(f"{name} {number} is outside {low}..{high}")
    return number


def select(
    rows: Iterable[Row],
    time_ms: Callable[[Row], int],
    start_ms: int,
    end_ms: int,
    limit: int,
    *,
    newest_first: bool,
) -> list[Row]:
    """The rows whose time (epoch ms) is in [start_ms, end_ms], in the venue's order, the first `limit`
    of them: the oldest ones for a venue that answers oldest first, the newest for one that answers
    newest first."""
    kept = sorted((row for row in rows if start_ms <= time_ms(row) <= end_ms), key=time_ms)
    if newest_first:
        kept.reverse()
    return kept[:limit]


def merged_rows(
    venue: str,
    names: Iterable[str],
    rows_of: Callable[[Any], list[Row]],
    key: Callable[[Row], str],
    time_ms: Callable[[Row], int],
) -> dict[str, list[Row]]:
    """Every recorded row of the recordings `names`, grouped by `key` (the symbol), one per time (the
    recordings of one history overlap), oldest first. `rows_of(recording)` finds the rows in its body."""
    grouped: dict[str, dict[int, Row]] = {}
    for name in names:
        for row in rows_of(load_json(venue, name)):
            grouped.setdefault(key(row), {})[time_ms(row)] = row
    return {k: [by_time[t] for t in sorted(by_time)] for k, by_time in grouped.items()}


def binance_style(
    venue: str, names: Iterable[str], bad_parameter: Callable[[str], Reply]
) -> Callable[[Mapping[str, Any]], Reply]:
    """The `fundingRate` history of Binance and of Aster's copy of its API: the recorded rows of `symbol`
    with startTime ≤ fundingTime ≤ endTime, oldest first, at most `limit` (default 100, 1..1000). A
    symbol with no recording answers `[]`, as the venue does for a range without settlements."""
    names = tuple(names)
    cache: dict[str, list[Row]] = {}

    def recorded() -> dict[str, list[Row]]:
        if not cache:  # loaded on first use, not at import
            cache.update(
                merged_rows(venue, names, lambda body: body, lambda row: row["symbol"], _funding_time)
            )
        return cache

    def answer(params: Mapping[str, Any]) -> Reply:
        try:
            start = whole(params, "startTime", 0)
            end = whole(params, "endTime", 2**62)
            limit = whole(params, "limit", 100, 1, 1000)
        except BadParameter as exc:
            return bad_parameter(str(exc))
        rows = recorded().get(params.get("symbol", ""), [])
        return json_reply(select(rows, _funding_time, start, end, limit, newest_first=False))

    return answer


def _funding_time(row: Row) -> int:
    return int(row["fundingTime"])


def json_reply(body: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(body, separators=(",", ":")).encode())
