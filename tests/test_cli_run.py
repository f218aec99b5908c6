"""`funding-finder run` and `demo --serve` as real processes against the simulator: the web server,
/healthz, /metrics and alerts while they run, and a clean stop on SIGTERM (exit 130, the cycle closed)."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import requests
from click.testing import CliRunner

from fakes import Receiver
from funding_finder.cli import main
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.store import Store

URL_LINE = re.compile(r"service on (http://127\.0\.0\.1:\d+)/")
GATE_CONTRACTS = "futures-usdt-contracts__arb-chain-bot-20260827.trimmed.json"


class Service:
    """A `funding-finder` process whose output is read on a thread; `url` once it printed it."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "funding_finder", *args],
            env={**os.environ, **env, "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def url(self, timeout_s: float = 30) -> str:
        ends = time.monotonic() + timeout_s
        while time.monotonic() < ends:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, "".join(self.output)
                continue
            if found := URL_LINE.search(line):
                return found[1]
        raise AssertionError("no URL printed: " + "".join(self.output))

    def healthy(self, url: str, timeout_s: float = 60) -> dict:
        ends = time.monotonic() + timeout_s
        while time.monotonic() < ends:
            answer = requests.get(f"{url}/healthz", timeout=5)
            if answer.status_code == 200:
                return answer.json()
            time.sleep(0.2)
        raise AssertionError(f"never healthy: {answer.json()} {''.join(self.output)}")

    def stop(self, timeout_s: float = 20) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)


def metric(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise KeyError((name, labels))


def test_run_serves_collects_alerts_and_stops_cleanly_on_sigterm(tmp_path):
    db = tmp_path / "funding.db"
    venues = ("gate", "hyperliquid", "bitmart")
    with Simulator(latency_ms=0, faults={"bitmart": "http500"}) as sim, Receiver() as hook:
        config = tmp_path / "alerts.toml"
        config.write_text(
            f'[webhook]\nurl = "{hook.url}"\ntimeout_s = 2\n\n[[failure_rate]]\nabove_pct = 50\ncycles = 6\n'
        )
        env = {f"FUNDING_FINDER_{venue.upper()}_URL": sim.venue_url(venue) for venue in venues}
        service = Service(
            [
                "run",
                "--db",
                str(db),
                "--exchanges",
                ",".join(venues),
                "--port",
                "0",
                "--retries",
                "0",
                "--config",
                str(config),
            ],
            env,
        )
        try:
            url = service.url()
            health = service.healthy(url)
            assert health["status"] == "ok" and health["collecting"] is True
            assert health["max_age_s"] == 2 * 5 * 60 + 120
            text = requests.get(f"{url}/metrics", timeout=5).text
            assert metric(text, "funding_finder_venue_rows", exchange="gate") == len(
                load_json("gate", GATE_CONTRACTS)
            )
            assert metric(text, "funding_finder_venue_rows", exchange="hyperliquid") == 178
            assert metric(text, "funding_finder_venue_failures", exchange="bitmart", kind="http_5xx") == 1
            assert metric(text, "funding_finder_collecting") == 1
            assert metric(text, "funding_finder_service_cycles_total") == 1
            for _ in range(50):  # the alert is evaluated right after the cycle is written
                if hook.posted:
                    break
                time.sleep(0.1)
            (posted,) = hook.posted
            assert (posted["status"], posted["rule"], posted["subject"]) == (
                "firing",
                "failure_rate",
                "bitmart",
            )
            text = requests.get(f"{url}/metrics", timeout=5).text
            assert metric(text, "funding_finder_alerts_fired_total") == 1
            assert metric(text, "funding_finder_webhook_posts_total") == 1
            assert metric(text, "funding_finder_webhook_failures_total") == 0
            assert requests.get(f"{url}/", timeout=5).status_code == 200  # the dashboard of create_app
        finally:
            status = service.stop()
        assert status == 130, "".join(service.output)
    assert "stopped" in "".join(service.output)
    store = Store(str(db))
    (cycle,) = store.cycles()
    store.close()
    assert cycle.status == "partial" and cycle.finished_at is not None  # bitmart failed


def test_sigterm_during_a_cycle_closes_it_as_partial_and_exits_130(tmp_path):
    db = tmp_path / "funding.db"
    with Simulator(latency_ms=0, faults={"okx": "hang"}, hang_s=60) as sim:
        env = {
            "FUNDING_FINDER_OKX_URL": sim.venue_url("okx"),
            "FUNDING_FINDER_HYPERLIQUID_URL": sim.venue_url("hyperliquid"),
        }
        service = Service(["run", "--db", str(db), "--exchanges", "hyperliquid,okx", "--port", "0"], env)
        url = service.url()
        for _ in range(200):  # until okx hangs
            if sim.stats()["venues"]["okx"]["requests"]:
                break
            time.sleep(0.05)
        assert requests.get(f"{url}/healthz", timeout=5).json()["status"] == "no_cycle"
        started = time.monotonic()
        status = service.stop()
        waited_s = time.monotonic() - started
    assert status == 130
    assert waited_s < 10  # not the 60 s the hanging call would take
    store = Store(str(db))
    (cycle,) = store.cycles()
    store.close()
    assert cycle.status == "partial" and cycle.finished_at is not None
    runs = {run.exchange: run for run in cycle.venues}
    assert runs["okx"].status == "failed" and dict(runs["okx"].failures) == {"interrupted": 1}
    assert runs["hyperliquid"].status == "ok" and runs["hyperliquid"].rows == 178


def test_run_exits_1_when_the_port_is_taken_before_any_cycle(tmp_path):
    db = tmp_path / "funding.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["run", "--db", str(db), "--exchanges", "gate", "--port", str(port)]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    store = Store(str(db))
    assert store.cycles() == []
    store.close()


def test_run_refuses_a_bad_alert_config_with_exit_2(tmp_path):
    bad = tmp_path / "alerts.toml"
    bad.write_text("[[stale]]\nminutes = -1\n")
    for config, says in (
        (bad, "`minutes` must be above 0"),
        (tmp_path / "none.toml", "cannot read the config"),
    ):
        result = CliRunner().invoke(main, ["run", "--db", str(tmp_path / "f.db"), "--config", str(config)])
        assert result.exit_code == 2, result.output
        assert says in result.output


def test_demo_serve_collects_live_looking_rows_and_stops_on_sigterm(tmp_path):
    db = tmp_path / "demo.db"
    service = Service(
        [
            "demo",
            "--serve",
            "--db",
            str(db),
            "--latency-ms",
            "0",
            "--port",
            "0",
            "--exchanges",
            "gate,bybit,okx,kucoin,hyperliquid",
        ],
        {},
    )
    try:
        url = service.url()
        health = service.healthy(url)
        assert health["last_cycle"]["rows"] > 0
    finally:
        status = service.stop()
    assert status == 130
    assert "times moved to now" in "".join(service.output)
    store = Store(str(db))
    rows = store.latest_rates()
    store.close()
    assert {row.exchange for row in rows} == {"gate", "bybit", "okx", "kucoin", "hyperliquid"}
    assert not [row for row in rows if "stale" in row.flags]
    assert all(row.next_funding_time > row.observed_at for row in rows)


def test_run_help_names_the_service_options():
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    for name in ("--every", "--host", "--port", "--config", "FUNDING_FINDER_CONFIG"):
        assert name in result.output


def test_serve_has_metrics_and_healthz_of_the_database(tmp_path):
    db = tmp_path / "funding.db"
    with Simulator(latency_ms=0) as sim:
        env = {"FUNDING_FINDER_GATE_URL": sim.venue_url("gate")}
        result = CliRunner(env=env).invoke(
            main, ["collect", "--once", "--db", str(db), "--exchanges", "gate"]
        )
    assert result.exit_code == 0, result.output
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = Service(["serve", "--db", str(db), "--port", str(port)], {})
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                health = requests.get(f"{url}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert health.status_code == 200 and "collecting" not in health.json()  # serve does not collect
        text = requests.get(f"{url}/metrics", timeout=5).text
        assert metric(text, "funding_finder_venue_rows", exchange="gate") == len(
            load_json("gate", GATE_CONTRACTS)
        )
        assert metric(text, "funding_finder_cycles_total", status="partial") == 1
    finally:
        service.process.terminate()
        service.process.wait(timeout=10)
