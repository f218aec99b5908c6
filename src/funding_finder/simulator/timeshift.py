"""Recorded answers moved to the present: every time field of a recording shifted by one offset.

For `demo --serve` only, so that settlement countdowns look live: the recorded bytes are kept except
the digits (or ISO-8601 text) of their time fields, each moved by the same whole number of seconds,
so every gap between two times of a recording is the recorded one and the product parses the shifted
answer exactly as the recorded one. The offset is computed at each request: it maps the recording's
capture moment to now, so a settlement that was 3 h ahead when recorded is 3 h ahead of every cycle
(and two cycles never see the same times, which a live venue would not show either).

What counts as a time field: a JSON member whose key names a time (`time`, `ts`, `t`, `timestamp`,
`…Time`, `…_time`, `…Date`, `…_at`, `funding_next_apply`, `usIn`/`usOut`), whose value (number or
numeric string) is epoch seconds, ms, µs or ns between 2001 and 2049 by its digit count (10, 13, 16,
19), or an ISO-8601 date-time string; and a bare 13-digit epoch-ms integer inside a JSON array (the
positional rows of Bitfinex). Open interest, sizes and ids are never keyed as times, so they stay.

The capture moment is the newest stamp of the answer (`time`, `ts`, `t`, `timestamp`, `serverTime`,
`requestTime`, `updateTime`, `usOut`). An answer without a stamp puts its earliest time within 8 h of
its newest (its nearest settlement) 30 minutes after now.

The plain simulator (`demo`, the tests) serves the recordings unchanged.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from funding_finder.simulator.server import Simulator
from funding_finder.simulator.spec import Reply

TIME_KEY = re.compile(
    r"(?i)(?:^(?:t|ts|mts|us(?:in|out))$|time|stamp|date|_at$|funding_next_apply$|nextupdate$)"
)
STAMP_KEYS = frozenset({"time", "ts", "t", "timestamp", "servertime", "requesttime", "updatetime", "usout"})
MEMBER = re.compile(
    rb'"(?P<key>[A-Za-z_][A-Za-z0-9_]{0,63})"\s*:\s*'
    rb'(?P<quote>"?)(?P<value>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|-?\d{10,19}(?![\d])(?:\.\d+)?)'
)
ARRAY_MS = re.compile(rb"(?<=[\[,])(?P<ws>\s*)(?P<value>1\d{12})(?=\s*[,\]])")
UNITS = {10: 1, 13: 1_000, 16: 1_000_000, 19: 1_000_000_000}
"""Digits of an epoch integer → units per second."""
MIN_EPOCH_S, MAX_EPOCH_S = 1_000_000_000, 2_500_000_000  # 2001-09-09 .. 2049-03-22
WINDOW_S = 8 * 3600.0
NO_STAMP_LEAD_S = 1800.0
ISO_LAYOUT = {b"T": "%Y-%m-%dT%H:%M:%S", b" ": "%Y-%m-%d %H:%M:%S"}


@dataclass(frozen=True)
class TimeField:
    """One time in a recording: the byte span of its digits (or ISO date-time, seconds precision),
    its units per second (0 for ISO) and its moment in epoch seconds."""

    start: int
    end: int
    per_s: int
    epoch_s: float
    stamp: bool


def _epoch_field(start: int, text: bytes, stamp: bool) -> TimeField | None:
    whole = text.split(b".", 1)[0].lstrip(b"-")
    per_s = UNITS.get(len(whole))
    if per_s is None or text.startswith(b"-"):
        return None
    epoch_s = int(whole) / per_s
    if not MIN_EPOCH_S <= epoch_s <= MAX_EPOCH_S:
        return None
    return TimeField(start, start + len(whole), per_s, epoch_s, stamp)


def _iso_field(start: int, text: bytes, stamp: bool) -> TimeField:
    moment = datetime.strptime(text.decode(), ISO_LAYOUT[text[10:11]]).replace(tzinfo=UTC)
    return TimeField(start, start + len(text), 0, moment.timestamp(), stamp)


def find_times(raw: bytes) -> list[TimeField]:
    """Every time field of a JSON answer, in byte order."""
    found = []
    for match in MEMBER.finditer(raw):
        key = match["key"].decode()
        if not TIME_KEY.search(key):
            continue
        stamp, value, start = key.lower() in STAMP_KEYS, match["value"], match.start("value")
        if value[4:5] == b"-":
            if match["quote"]:
                found.append(_iso_field(start, value, stamp))
        elif (field := _epoch_field(start, value, stamp)) is not None:
            found.append(field)
    for match in ARRAY_MS.finditer(raw):
        field = _epoch_field(match.start("value"), match["value"], stamp=False)
        if field is not None:
            found.append(field)
    return sorted(found, key=lambda field: field.start)


def capture_moment(fields: list[TimeField]) -> float | None:
    """Epoch seconds of the moment the answer was recorded (see the module doc); None without times."""
    if not fields:
        return None
    stamps = [field.epoch_s for field in fields if field.stamp]
    if stamps:
        return max(stamps)
    newest = max(field.epoch_s for field in fields)
    nearest = min(field.epoch_s for field in fields if field.epoch_s >= newest - WINDOW_S)
    return nearest - NO_STAMP_LEAD_S


def _moved(raw: bytes, field: TimeField, offset_s: int) -> bytes:
    text = raw[field.start : field.end]
    if field.per_s == 0:
        layout = ISO_LAYOUT[text[10:11]]
        moment = datetime.strptime(text.decode(), layout) + timedelta(seconds=offset_s)
        return moment.strftime(layout).encode()
    return str(int(text) + offset_s * field.per_s).encode()


class ShiftedRecording:
    """A recording's bytes with their time fields found once, rendered for any `now`."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.fields = find_times(raw)
        self.captured_s = capture_moment(self.fields)

    def offset_s(self, now_s: float) -> int:
        """Whole seconds added to every time field at `now_s`; 0 for an answer without times."""
        return 0 if self.captured_s is None else round(now_s - self.captured_s)

    def at(self, now_s: float) -> bytes:
        offset_s = self.offset_s(now_s)
        if offset_s == 0:
            return self.raw
        parts, last = [], 0
        for field in self.fields:
            parts += [self.raw[last : field.start], _moved(self.raw, field, offset_s)]
            last = field.end
        parts.append(self.raw[last:])
        return b"".join(parts)


class TimeShiftedSimulator(Simulator):
    """The simulator whose successful answers have their times moved to `wall_clock()` (epoch
    seconds) at each request; limits, faults and error answers are the plain simulator's."""

    def __init__(self, *args: Any, wall_clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wall_clock = wall_clock
        self._shifted: dict[bytes, ShiftedRecording] = {}
        self._shift_lock = threading.Lock()

    def _recording(self, body: bytes) -> ShiftedRecording:
        with self._shift_lock:
            found = self._shifted.get(body)
            if found is None:
                found = self._shifted[body] = ShiftedRecording(body)
                if len(self._shifted) > 256:  # computed answers (history pages) vary: keep it bounded
                    self._shifted.pop(next(iter(self._shifted)))
            return found

    def _answer(self, *args: Any, **kwargs: Any) -> Reply:
        reply = super()._answer(*args, **kwargs)
        if reply.status != 200:
            return reply
        return Reply(reply.status, self._recording(reply.body).at(self.wall_clock()), reply.content_type)
