"""The main pages kept warm: what a page derives from the latest rows is computed again once per data
version (`Reader.cached`), and without help the first visitor after each cycle pays for it. A daemon
thread of `serve` and `run` asks for the main pages itself once the data has settled, so that visitors
find them computed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Sequence

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

WARM_PAGES = ("/", "/rates", "/venues")
"""Pages asked for with their default parameters (the opportunities page also walks its pairs' week
of history once at start: seconds on a large store)."""
POLL_S = 2.0
"""Seconds between two looks at the data version (two primary-key lookups)."""


class Warmer:
    """Asks for `pages` at the first look, then whenever the data version has changed and stayed the
    same for one poll: a cycle commits venue by venue, and warming after each of them would compute
    the pages again for every venue."""

    def __init__(self, app: Flask, pages: Sequence[str] = WARM_PAGES) -> None:
        self.app = app
        self.pages = pages
        self.client = app.test_client()
        self.warmed: Hashable | None = None
        self.last_seen: Hashable | None = None
        self.started = False

    def step(self) -> bool:
        """One look at the store; True when the pages were asked for."""
        version = self.app.extensions["funding_finder"].store.data_version()
        settled = version == self.last_seen or not self.started
        self.last_seen, self.started = version, True
        if not settled or version == self.warmed:
            return False
        for page in self.pages:
            status = self.client.get(page).status_code
            if status >= 500:
                log.warning("warming %s: status %d", page, status)
        self.warmed = version
        return True

    def run(self, stop: threading.Event, poll_s: float = POLL_S) -> None:
        while not stop.is_set():
            try:
                self.step()
            except SQLAlchemyError as exc:  # the database is away for a moment: look again later
                log.warning("warming the pages: cannot read the data version: %s", exc)
            stop.wait(poll_s)


def keep_warm(app: Flask, stop: threading.Event | None = None, poll_s: float = POLL_S) -> threading.Thread:
    """Start the warming thread (a daemon: it never holds a shutdown); it ends when `stop` is set."""
    thread = threading.Thread(
        target=Warmer(app).run, args=(stop or threading.Event(), poll_s), name="web-warm", daemon=True
    )
    thread.start()
    return thread
