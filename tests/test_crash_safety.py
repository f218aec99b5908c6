"""`kill -9` of a real `collect` process at random moments never leaves a damaged or half-written store.

Each kill lands somewhere in a cycle: before the cycle row, between two venues' transactions, inside
one, or after the cycle closed. Whatever the moment, SQLite must pass its integrity check, every
venue's rows must match its stats row (both are in one transaction), a cycle marked `complete` must
hold every venue as `ok`, and the next `collect` on the same file must run normally.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from funding_finder.exchanges import VENUES
from funding_finder.simulator import Simulator

KILLS = 20
SEED = 20261204
"""The kill moments are random but reproducible: change the seed to explore other moments."""


def collect(db: Path, sim: Simulator) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FUNDING_FINDER_LOG_LEVEL": "ERROR"}
    env.update({f"FUNDING_FINDER_{venue.upper()}_URL": sim.venue_url(venue) for venue in VENUES})
    return subprocess.Popen(
        [sys.executable, "-m", "funding_finder", "collect", "--once", "--db", str(db)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def check_store(db: Path) -> dict[str, int]:
    """Assert every invariant a crash must keep; return the cycles by status."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        stored = dict(
            conn.execute(
                "SELECT cycle_id || ':' || exchange, count(*) FROM funding_rates GROUP BY cycle_id, exchange"
            ).fetchall()
        )
        recorded = dict(conn.execute("SELECT cycle_id || ':' || exchange, rows FROM venue_runs").fetchall())
        # rows and stats of a venue are one transaction: neither exists without the other
        assert {key: n for key, n in recorded.items() if n} == stored
        for cycle_id, status, finished in conn.execute("SELECT id, status, finished_at_ms FROM cycles"):
            venues = dict(
                conn.execute(
                    "SELECT exchange, status FROM venue_runs WHERE cycle_id = ?", (cycle_id,)
                ).fetchall()
            )
            if status == "complete":
                assert venues == dict.fromkeys(VENUES, "ok"), f"cycle {cycle_id} complete but {venues}"
            if status in ("complete", "partial"):
                assert finished is not None and set(venues) == set(VENUES)
            else:
                assert status == "running" and finished is None
        return dict(conn.execute("SELECT status, count(*) FROM cycles GROUP BY status").fetchall())
    finally:
        conn.close()


def cycles_started(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM cycles").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        conn.close()


def wait_for_new_cycle(db: Path, known: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while cycles_started(db) == known:
        assert process.poll() is None and time.monotonic() < deadline, "collect never started a cycle"
        time.sleep(0.01)


def last_cycle_s(db: Path) -> float:
    conn = sqlite3.connect(db)
    try:
        started, finished = conn.execute(
            "SELECT started_at_ms, finished_at_ms FROM cycles ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return (finished - started) / 1000
    finally:
        conn.close()


def test_random_kill_9_during_collect_never_damages_the_store(tmp_path):
    db = tmp_path / "funding.db"
    chooser = random.Random(SEED)
    killed_inside = 0
    with Simulator(latency_ms=20, seed=SEED) as sim:
        for _ in range(2):  # a cold cycle, then a steady one: the kill moments are drawn from its length
            sim.reset()
            first = collect(db, sim)
            assert first.wait(timeout=120) == 0, first.stderr.read().decode() if first.stderr else ""
        cycle_s = last_cycle_s(db)
        check_store(db)
        for kill in range(KILLS):
            sim.reset()  # each process has its own gate: start each from fresh venue windows
            before = check_store(db)
            process = collect(db, sim)
            if kill % 5:  # most kills inside the cycle, from its first write to just past its end
                wait_for_new_cycle(db, sum(before.values()), process)
                time.sleep(chooser.uniform(0.0, cycle_s * 1.1))
            else:  # some during start-up, before or while the schema is checked
                time.sleep(chooser.uniform(0.0, 0.5))
            process.kill()
            process.wait(timeout=30)
            after = check_store(db)
            killed_inside += after.get("running", 0) - before.get("running", 0)
        sim.reset()
        last = collect(db, sim)
        assert last.wait(timeout=120) == 0, last.stderr.read().decode() if last.stderr else ""
    statuses = check_store(db)
    # the kills really landed inside cycles (those stay `running` for good), and the store kept going
    assert killed_inside >= KILLS // 2, f"only {killed_inside} kills landed inside a cycle"
    assert statuses.get("complete", 0) + statuses.get("partial", 0) >= 3
