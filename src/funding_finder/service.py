"""The service loop of `funding-finder run`: collection cycles aligned to the clock, and the web server.

Cycles start at multiples of `every_min` minutes past the hour (UTC): with 5, at :00, :05, :10 and so
on, so that every collector of a fleet observes at the same moments and a cycle's time says which slot
it filled. The first cycle runs at start; a cycle that overruns its slot makes the loop skip to the
next free slot (never two cycles back to back to catch up). The clock and the wait are injected, so
the schedule is tested on a fake clock.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("funding_finder.service")

HOUR_S = 3600.0
DAY_S = 86400.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def next_start(after: datetime, every_min: float) -> datetime:
    """The first slot strictly after `after`: a multiple of `every_min` minutes past the hour (UTC).

    A period that does not divide the hour (7 min) restarts at every full hour (:56, then :00); a
    period of an hour or more counts from midnight UTC in the same way, and one of a day or more
    from the Unix epoch."""
    if not (math.isfinite(every_min) and every_min > 0):
        raise ValueError(f"every_min must be a finite number of minutes above 0, got {every_min!r}")
    period_s = every_min * 60
    moment = after.astimezone(UTC)
    if period_s < HOUR_S:
        anchor, span_s = moment.replace(minute=0, second=0, microsecond=0), HOUR_S
    elif period_s < DAY_S:
        anchor, span_s = moment.replace(hour=0, minute=0, second=0, microsecond=0), DAY_S
    else:
        anchor, span_s = datetime(1970, 1, 1, tzinfo=UTC), math.inf
    elapsed_s = (moment - anchor).total_seconds()
    slots = math.floor(elapsed_s / period_s + 1e-9) + 1
    offset_s = slots * period_s
    if offset_s >= span_s:  # the next hour (or day) starts the count again
        offset_s = span_s
    return anchor + timedelta(seconds=offset_s)


@dataclass
class ServiceState:
    """What the loop has done, for /healthz and the log: cycles run and whether it still runs."""

    running: bool = False
    cycles: int = 0
    skipped_slots: int = 0
    """Slots missed because a cycle outlasted them."""
    failed_cycles: int = 0
    """Cycles that raised a skipped error (the database could not be written)."""
    last_started: datetime | None = None
    last_finished: datetime | None = None


class Schedule:
    """Runs `cycle` at start and then at every slot until `stop` is set.

    `now`: the wall clock (UTC). `wait(seconds)`: blocks at most that long and returns True when the
    loop must stop (default `stop.wait`). `skip`: errors that cost one cycle once the first cycle has
    run (a database that became unwritable); at start-up they propagate, as `collect` exits 1 then.
    """

    def __init__(
        self,
        cycle: Callable[[], Any],
        every_min: float,
        stop: threading.Event,
        *,
        now: Callable[[], datetime] = utcnow,
        wait: Callable[[float], bool] | None = None,
        skip: tuple[type[BaseException], ...] = (),
    ) -> None:
        next_start(utcnow(), every_min)  # refuses a bad period before anything runs
        self.cycle = cycle
        self.every_min = every_min
        self.stop = stop
        self.now = now
        self.wait = wait or stop.wait
        self.skip = skip
        self.state = ServiceState()

    def run(self) -> ServiceState:
        self.state.running = True
        try:
            while not self.stop.is_set():
                started = self.now()
                self._run_one(started)
                if self.stop.is_set():
                    break
                slot = self._next_slot(started)
                log.info("next cycle at %s", slot.isoformat(timespec="seconds"))
                if self._wait_until(slot):
                    break
        finally:
            self.state.running = False
        return self.state

    def _run_one(self, started: datetime) -> None:
        self.state.last_started = started
        try:
            self.cycle()
        except self.skip as exc:
            if self.state.cycles == 0:
                raise
            self.state.failed_cycles += 1
            log.error("cycle skipped: %s (next try at the next slot)", exc)
        else:
            self.state.last_finished = self.now()
        self.state.cycles += 1

    def _next_slot(self, started: datetime) -> datetime:
        """The first slot after now; the slots passed since `started` while the cycle ran are
        counted and logged as skipped."""
        first = next_start(started, self.every_min)
        slot = next_start(self.now(), self.every_min)
        missed = 0
        probe = first
        while probe < slot:
            missed += 1
            probe = next_start(probe, self.every_min)
        if missed:
            self.state.skipped_slots += missed
            log.warning(
                "the cycle outlasted %d slot(s) of %g min; next at %s",
                missed,
                self.every_min,
                slot.isoformat(timespec="seconds"),
            )
        return slot

    def _wait_until(self, slot: datetime) -> bool:
        """Wait until the wall clock reaches `slot` (a wait that wakes early waits again); True when
        stopped."""
        while (remaining_s := (slot - self.now()).total_seconds()) > 0:
            if self.wait(remaining_s):
                return True
        return self.stop.is_set()


class WebServer:
    """A waitress server for a WSGI app on a background thread; `stop()` closes it from any thread.

    The listening socket is bound in the constructor, so a port in use fails before collection starts.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8000, threads: int = 4) -> None:
        from waitress.server import create_server

        self._server: Any = create_server(app, host=host, port=port, threads=threads, ident="funding-finder")
        self.host = host
        listening = getattr(self._server, "effective_listen", None)  # several addresses ("localhost")
        self.port = int(listening[0][1] if listening else self._server.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def _serve(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError) as exc:  # a socket closed under the poll at shutdown
            log.debug("web server loop ended: %s", exc)

    def start(self) -> WebServer:
        self._thread.start()
        return self

    def serve_here(self) -> None:
        """Serve on the calling thread until Ctrl-C (waitress's loop ends on KeyboardInterrupt)."""
        self._serve()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close every socket from inside the server's own loop (its trigger), then join it."""
        from waitress import wasyncore
        from waitress.server import BaseWSGIServer

        server = self._server
        sockets = getattr(server, "_map", None) or server.map
        if not self._thread.is_alive():
            wasyncore.close_all(sockets)
            return
        trigger = next(item.trigger for item in list(sockets.values()) if isinstance(item, BaseWSGIServer))
        trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
        self._thread.join(timeout_s)
        dispatcher = getattr(server, "task_dispatcher", None)
        if dispatcher is not None:  # the worker threads of the requests
            dispatcher.shutdown()
