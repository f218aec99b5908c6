"""`funding-finder serve`: a real process under waitress on 127.0.0.1, read only, refusing what it
cannot serve."""

import socket
import subprocess
import sys
import time

import requests
from click.testing import CliRunner

from funding_finder.cli import main


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_answers_the_api_and_the_pages_from_the_database(web_db):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "funding_finder", "serve", "--db", web_db, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # up to 10 s for the process to listen
            try:
                answer = requests.get(f"{base}/api/rates?exchange=okx&q=BTC-USDT-SWAP", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError(process.stdout.read1().decode() if process.stdout else "no output")
        (row,) = [r for r in answer.json()["items"] if r["native_symbol"] == "BTC-USDT-SWAP"]
        assert (row["funding_rate"], row["interval_hours"]) == (0.0001, 8.0)
        page = requests.get(f"{base}/rates", timeout=5)
        assert page.status_code == 200 and "BTC/USDT:USDT" in page.text
        assert requests.get(f"{base}/static/uPlot.iife.min.js", timeout=5).text.startswith(
            "/*! https://github.com/leeoniya/uPlot (v1.6.32)"
        )
        assert requests.post(f"{base}/api/rates", timeout=5).status_code == 405  # nothing to write
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_refuses_a_missing_database_and_a_bad_port(tmp_path):
    missing = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "typo.db")])
    assert missing.exit_code == 1 and "no database at" in missing.output
    assert (
        CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "x.db"), "--port", "70000"]).exit_code == 2
    )
