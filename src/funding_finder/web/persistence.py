"""How long each shown pair's spread has stayed positive, kept up to date from the rows that are new
since the last request instead of reading the whole window every time.

`top` reads every row of both contracts over `--history-days` and walks them (`arbitrage.persistence`).
On a 30-day store that read is page-bound (one contract's rows lie in a different database page per
cycle): about a second for the 100 contracts of 50 pairs, whichever query is used. A dashboard is asked
again after every cycle, and only a few rows per contract are new by then. So per pair this keeps the
walk's state at an *anchor* a little behind the newest observation — each leg's last row at or before
it and the start of the positive run there — and each later request walks only the seeds and the rows
after the anchor, with `arbitrage.persistence` itself.

The anchor stays `ANCHOR_LAG` behind the newest observation because rows are not committed in the order
they were observed (each venue commits when it finishes); rows older than the lag are all committed.
A run longer than the window is reported from the window's start, as `top` would (to within one cycle).
A run already walked is not walked again when `downsample` later thins its old rows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from funding_finder.arbitrage import Opportunity, persistence
from funding_finder.model import FundingRate
from funding_finder.store import Store

ANCHOR_LAG = timedelta(minutes=15)
"""Rows observed this long before the newest are taken as all committed (a cycle's venues commit within
its deadline, 120 s by default)."""
MAX_PAIRS = 5000
"""Pair states kept; beyond it the oldest are dropped (and read in full again when shown)."""

Key = tuple[tuple[str, str], tuple[str, str]]


@dataclass(frozen=True)
class RunState:
    """The walk of one pair up to `anchor`: each leg's last row at or before it, and the start of the
    positive run at the last sample (None when the spread there was not above zero)."""

    anchor: datetime
    seed_long: FundingRate | None
    seed_short: FundingRate | None
    since: datetime | None
    window_start: datetime
    """The oldest time this state has read from: a state that begins after a later window's start is read
    again in full."""


def _walk(
    state: RunState | None, longs: Sequence[FundingRate], shorts: Sequence[FundingRate]
) -> tuple[datetime | None, datetime | None]:
    """(run start, newest sample) over the state's seeds followed by the rows after its anchor."""
    long_rows = ([state.seed_long] if state and state.seed_long else []) + list(longs)
    short_rows = ([state.seed_short] if state and state.seed_short else []) + list(shorts)
    _, since = persistence(long_rows, short_rows)
    if not long_rows or not short_rows:
        return None, None
    newest = max(long_rows[-1].observed_at, short_rows[-1].observed_at)
    first_sample = max(long_rows[0].observed_at, short_rows[0].observed_at)
    if state is not None and state.since is not None and since is not None and since <= first_sample:
        since = state.since  # the run goes on through the seeds' sample: it began where the state says
    return since, newest


def _advance(
    state: RunState | None, longs: list[FundingRate], shorts: list[FundingRate], window_start: datetime
) -> RunState | None:
    """The state moved to `ANCHOR_LAG` before the newest row, or the old one when that is not later."""
    newest = max((rows[-1].observed_at for rows in (longs, shorts) if rows), default=None)
    if newest is None:
        return state
    anchor = newest - ANCHOR_LAG
    if state is not None and anchor <= state.anchor:
        return state
    before_long = [row for row in longs if row.observed_at <= anchor]
    before_short = [row for row in shorts if row.observed_at <= anchor]
    since, _ = _walk(state, before_long, before_short)
    return RunState(
        anchor=anchor,
        seed_long=before_long[-1] if before_long else (state.seed_long if state else None),
        seed_short=before_short[-1] if before_short else (state.seed_short if state else None),
        since=since,
        window_start=state.window_start if state else window_start,
    )


class PersistenceCache:
    """Pair states shared by waitress's threads (a lock around the dictionary; walks outside it)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._states: dict[Key, RunState] = {}
        self._lock = threading.Lock()

    def apply(self, shown: Sequence[Opportunity], window_start: datetime) -> list[Opportunity]:
        """The opportunities with `persistence_hours` and `positive_since` over the rows observed from
        `window_start` on, reading only what the states do not cover."""
        keys = [(o.long.key, o.short.key) for o in shown]
        with self._lock:
            states = {key: self._states.get(key) for key in keys}
        for key, state in states.items():
            if state is not None and state.window_start > window_start:
                states[key] = None  # this window reaches further back than the state has read
        read_from = min(
            [window_start]
            if None in states.values()
            else [s.anchor for s in states.values() if s is not None],
            default=window_start,
        )
        history = self.store.rate_history({leg for key in keys for leg in key}, max(read_from, window_start))
        result = []
        for opportunity, key in zip(shown, keys, strict=True):
            state = states[key]
            cut = state.anchor if state is not None else None
            longs = [r for r in history.get(key[0], ()) if cut is None or r.observed_at > cut]
            shorts = [r for r in history.get(key[1], ()) if cut is None or r.observed_at > cut]
            since, newest = _walk(state, longs, shorts)
            if since is not None and newest is not None:
                since = max(since, window_start)
                hours = (newest - since).total_seconds() / 3600
            else:
                since, hours = None, 0.0
            result.append(replace(opportunity, persistence_hours=hours, positive_since=since))
            states[key] = _advance(state, longs, shorts, window_start)
        with self._lock:
            self._states.update({key: state for key, state in states.items() if state is not None})
            while len(self._states) > MAX_PAIRS:
                self._states.pop(next(iter(self._states)))
        return result
