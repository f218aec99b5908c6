import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from funding_finder.cli import main, rates_table, sort_rates
from funding_finder.exchanges import VENUES
from funding_finder.model import make_rate
from funding_finder.settings import markdown_table
from funding_finder.simulator import Simulator
from funding_finder.store import Store

ROOT = Path(__file__).resolve().parent.parent
ISO_SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """One `collect --once` through the simulator, venues reached by FUNDING_FINDER_<ID>_URL."""
    db = str(tmp_path_factory.mktemp("cli") / "funding.db")
    with Simulator(latency_ms=0) as sim:
        env = {f"FUNDING_FINDER_{venue_id.upper()}_URL": sim.venue_url(venue_id) for venue_id in VENUES}
        result = CliRunner(env=env).invoke(main, ["collect", "--once", "--db", db])
        violations = sim.stats()["total_violations"]
    assert result.exit_code == 0, result.output
    assert violations == 0
    return db


def test_rates_json_is_sorted_with_plain_numbers_and_iso_times(collected):
    result = CliRunner().invoke(main, ["rates", "--json", "--db", collected])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert [(r["exchange"], r["native_symbol"]) for r in rows] == sorted(
        (r["exchange"], r["native_symbol"]) for r in rows
    )
    assert {r["exchange"] for r in rows} == set(VENUES)
    for row in rows:
        assert isinstance(row["funding_rate"], float)
        assert ISO_SECOND.match(row["observed_at"])
        assert row["next_funding_time"] is None or ISO_SECOND.match(row["next_funding_time"])
    okx = {r["native_symbol"]: r for r in rows if r["exchange"] == "okx"}
    assert okx["BTC-USDT-SWAP"]["funding_rate"] == 0.0001
    assert okx["BTC-USDT-SWAP"]["interval_hours"] == 8
    assert okx["BTC-USDT-SWAP"]["next_funding_time"] == "2026-09-19T16:00:00Z"
    assert okx["ONE-USDT-SWAP"]["funding_rate"] == -0.0018087460514744
    assert okx["ONE-USDT-SWAP"]["interval_hours"] == 1
    assert okx["ONE-USDT-SWAP"]["apr"] == pytest.approx(-0.0018087460514744 * 8760)
    assert "XAU-USD_UM_XPERP-310502" not in okx


def test_rates_filters_by_exchange_and_sorts_by_apr(collected):
    result = CliRunner().invoke(
        main, ["rates", "--json", "--exchange", "gate", "--sort", "apr", "--db", collected]
    )
    rows = json.loads(result.output)
    assert {r["exchange"] for r in rows} == {"gate"} and len(rows) == 24
    aprs = [r["apr"] for r in rows]
    assert aprs == sorted(aprs, reverse=True)


def test_rates_table_shows_percent_and_prints_venue_strings_literally(collected):
    result = CliRunner().invoke(main, ["rates", "--db", collected, "--exchange", "okx"])
    assert result.exit_code == 0
    assert "BTC/USDT:USDT" in result.output and "0.0100%" in result.output and "-0.1809%" in result.output
    hostile = make_rate(
        exchange="x",
        native_symbol="[bold]EVIL[/bold]",
        listed_base="[red]EVIL",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0001,
        interval_hours=8,
        next_funding_time=None,
        observed_at=datetime.now(UTC),
        listed=False,
    )
    console = Console(width=200, record=True)
    console.print(rates_table([hostile], title="t"))
    text = console.export_text()
    assert "[red]EVIL/USDT:USDT" in text and "unlisted" in text


def test_sort_by_apr_is_descending_with_unknowns_last():
    def row(symbol, rate, interval):
        return make_rate(
            exchange="x",
            native_symbol=symbol,
            listed_base=symbol,
            quote="USDT",
            settle="USDT",
            contract_type="linear",
            funding_rate=rate,
            interval_hours=interval,
            next_funding_time=None,
            observed_at=datetime.now(UTC),
        )

    rows = [row("A", 0.0001, 8), row("B", 0.0001, None), row("C", 0.0001, 1), row("D", -0.001, 4)]
    assert [r.native_symbol for r in sort_rates(rows, "apr")] == ["C", "A", "D", "B"]


def test_cycles_json_lists_venue_stats(collected):
    result = CliRunner().invoke(main, ["cycles", "--json", "--db", collected])
    cycles = json.loads(result.output)
    assert cycles[0]["status"] == "partial"  # some venues' product families were never recorded
    venue = {v["exchange"]: v for v in cycles[0]["venues"]}
    assert set(venue) == set(VENUES)
    assert set(venue["okx"]) == {
        "exchange",
        "status",
        "requests",
        "rows",
        "failures",
        "duration_s",
        "gate_wait_s",
        "latency_ms",
        "error",
        "live",
        "rate_limited",
        "pauses",
        "limits",
    }
    assert (venue["okx"]["status"], venue["okx"]["requests"], venue["okx"]["rows"]) == ("ok", 2, 3)
    assert (venue["okx"]["rate_limited"], venue["okx"]["pauses"]) == (0, 0)
    # one funding-rate call (10 per 2 s per instId) and one instruments list (20 per 2 s)
    assert venue["okx"]["limits"]["funding-rate"] == {"used": 1, "allowed": 10}
    assert venue["okx"]["failures"] == {} and venue["okx"]["live"] is False  # a replay settles in the past
    assert set(venue["okx"]["latency_ms"]) == {"p50_ms", "p95_ms", "max_ms"}
    binance = venue["binance"]
    assert (binance["status"], binance["requests"], binance["rows"]) == ("partial", 6, 691)
    assert binance["failures"] == {"http_4xx": 2} and binance["error"].startswith(
        "binance dapi-premiumIndex: HTTP 404"
    )


def test_exchanges_json_lists_the_implemented_venues():
    result = CliRunner().invoke(main, ["exchanges", "--json"])
    venues = json.loads(result.output)
    assert [v["id"] for v in venues] == [
        "binance",
        "okx",
        "bybit",
        "bitget",
        "gate",
        "mexc",
        "kucoin",
        "htx",
        "bingx",
        "hyperliquid",
        "dydx",
        "deribit",
        "krakenfutures",
        "coinbaseintl",
        "bitfinex",
        "phemex",
        "woox",
        "bitmart",
        "coinex",
        "aster",
        "backpack",
        "paradex",
        "lighter",
        "cryptocom",
    ]
    assert all(v["name"] for v in venues)


def test_unknown_exchange_is_a_usage_error_naming_the_implemented_ones(tmp_path):
    result = CliRunner().invoke(
        main, ["collect", "--once", "--exchanges", "binance,kraken", "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 2
    assert "kraken" in result.output and "binance, okx, bybit" in result.output


def test_a_malformed_venue_url_is_a_usage_error_before_any_call(tmp_path):
    result = CliRunner().invoke(
        main,
        ["collect", "--once", "--exchanges", "htx", "--db", str(tmp_path / "x.db")],
        env={"FUNDING_FINDER_HTX_URL": "not a url"},
    )
    assert result.exit_code == 2, result.output
    assert "FUNDING_FINDER_HTX_URL" in result.output
    assert not (tmp_path / "x.db").exists()


def test_unwritable_database_exits_non_zero_with_a_message(tmp_path):
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(main, ["collect", "--once", "--db", str(tmp_path / "file" / "funding.db")])
    assert result.exit_code == 1
    assert "cannot" in result.output


def test_demo_collects_every_venue_without_violations(tmp_path):
    db = str(tmp_path / "demo.db")
    result = CliRunner().invoke(main, ["demo", "--db", db, "--latency-ms", "0"])
    assert result.exit_code == 0, result.output
    assert ", 0 rate-limit violations" in result.output
    assert "calls with no recording to replay" in result.output
    rows = json.loads(CliRunner().invoke(main, ["rates", "--json", "--db", db]).output)
    assert {row["exchange"] for row in rows} == set(VENUES)


def test_readme_settings_table_is_generated_from_the_settings():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    assert block == markdown_table()


def test_readme_lists_every_venue_and_ci_runs_its_test_command():
    readme = (ROOT / "README.md").read_text()
    for venue_id in VENUES:
        assert re.search(rf"^\| {venue_id} \|", readme, re.MULTILINE), venue_id
    test_command = re.search(r"Run the tests.*?```sh\n(.+?)\n```", readme, re.DOTALL).group(1)
    assert test_command in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    "option",
    [
        ["--timeout-s", "0"],
        ["--timeout-s", "nan"],
        ["--every", "-1"],
        ["--retries", "-1"],
        ["--exchanges", ","],
    ],
)
def test_nonsense_options_are_usage_errors(tmp_path, option):
    result = CliRunner().invoke(main, ["collect", "--once", "--db", str(tmp_path / "x.db"), *option])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "x.db").exists()


def test_exchange_ids_are_read_in_any_case_once_each(collected):
    result = CliRunner().invoke(
        main, ["rates", "--json", "--exchange", " OKX", "--exchange", "okx", "--db", collected]
    )
    assert result.exit_code == 0, result.output
    assert {r["exchange"] for r in json.loads(result.output)} == {"okx"}


def test_a_read_only_database_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    db = tmp_path / "ro.db"
    CliRunner().invoke(main, ["cycles", "--db", str(db)])  # nothing there yet: refused, nothing made
    assert not db.exists()
    from funding_finder.store import Store

    Store(str(db)).close()
    # root ignores file modes, so the file is opened read-only the way SQLite does for a read-only file
    real = __import__("sqlalchemy").create_engine
    monkeypatch.setattr(
        "funding_finder.store.create_engine",
        lambda url, **kw: real(url.replace("sqlite:///", "sqlite:///file:") + "?mode=ro&uri=true", **kw),
    )
    result = CliRunner().invoke(main, ["collect", "--once", "--exchanges", "gate", "--db", str(db)])
    assert result.exit_code == 1
    assert "cannot write to the database" in result.output and "readonly" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_rates_of_a_database_that_does_not_exist_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["rates", "--db", str(tmp_path / "typo.db")])
    assert result.exit_code == 1 and "no database at" in result.output
    assert not (tmp_path / "typo.db").exists()


def test_simulate_rejects_unknown_faults_and_ports():
    for args in (
        ["--fault", "gate=bogus"],
        ["--fault", "nowhere=html"],
        ["--port", "70000"],
        ["--latency-ms", "-5"],
    ):
        result = CliRunner().invoke(main, ["simulate", *args])
        assert result.exit_code == 2, (args, result.output)


def test_ctrl_c_during_a_cycle_closes_it_as_partial_keeps_finished_venues_and_exits_at_once(tmp_path):
    db = tmp_path / "funding.db"
    with Simulator(latency_ms=0, faults={"okx": "hang"}, hang_s=60) as sim:
        env = {
            **os.environ,
            "FUNDING_FINDER_OKX_URL": sim.venue_url("okx"),
            "FUNDING_FINDER_HYPERLIQUID_URL": sim.venue_url("hyperliquid"),
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "funding_finder",
                "collect",
                "--once",
                "--exchanges",
                "hyperliquid,okx",
                "--db",
                str(db),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(200):  # wait until hyperliquid is stored and okx hangs
            time.sleep(0.05)
            if sim.stats()["venues"]["okx"]["requests"] and db.exists() and _venue_rows(db):
                break
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        process.wait(timeout=20)
        waited_s = time.monotonic() - started
    assert process.returncode == 130
    assert waited_s < 5  # not the 60 s the hanging call would take
    result = CliRunner().invoke(main, ["cycles", "--json", "--db", str(db)])
    (cycle,) = json.loads(result.output)
    assert cycle["status"] == "partial" and cycle["finished_at"] is not None
    venues = {venue["exchange"]: venue for venue in cycle["venues"]}
    assert set(venues) == {"hyperliquid", "okx"}, cycle
    assert venues["hyperliquid"]["status"] == "ok" and venues["hyperliquid"]["rows"] == 178, cycle
    assert venues["okx"]["status"] == "failed" and venues["okx"]["failures"] == {"interrupted": 1}


def _venue_rows(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("select count(*) from venue_runs").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_backfill_stores_history_of_the_collected_contracts_and_reports_json(tmp_path):
    db = str(tmp_path / "history.db")
    with Simulator(latency_ms=0) as sim:
        env = {"FUNDING_FINDER_BINANCE_URL": sim.venue_url("binance")}
        collected = CliRunner(env=env).invoke(
            main, ["collect", "--once", "--exchanges", "binance", "--db", db]
        )
        assert collected.exit_code == 0, collected.output
        args = ["backfill", "--days", "2000", "--symbols", "BTCUSDT,ETHUSDT", "--json", "--db", db]
        result = CliRunner(env=env).invoke(main, [*args, "--exchanges", "binance,gate"])
        again = CliRunner(env=env).invoke(main, [*args, "--exchanges", "binance"])
        violations = sim.stats()["total_violations"]
    assert result.exit_code == 0, result.output
    [binance_run] = json.loads(result.output)  # gate has no history endpoint: skipped
    assert (binance_run["exchange"], binance_run["contracts"], binance_run["done"]) == ("binance", 2, 2)
    assert binance_run["events"] == 98 + 20 and binance_run["failures"] == {}
    assert json.loads(again.output)[0]["events"] == 0  # resumed: nothing new
    assert violations == 0


def test_backfill_of_venues_without_history_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["backfill", "--exchanges", "gate", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "history" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--days", "nan"],
        ["--days", "inf"],
        ["--days", "1e9"],
        ["--days", "0"],
        ["--symbols", ","],
        ["--symbols", ""],
    ],
)
def test_backfill_refuses_bad_ranges_and_empty_symbol_lists(tmp_path, args):
    db = tmp_path / "x.db"
    Store(str(db)).close()
    result = CliRunner().invoke(main, ["backfill", "--exchanges", "binance", "--db", str(db), *args])
    assert result.exit_code == 2, result.output


def test_a_url_override_that_names_no_venue_is_warned_about(tmp_path):
    with Simulator(latency_ms=0) as sim:
        env = {
            "FUNDING_FINDER_OKX_URL": sim.venue_url("okx"),
            "FUNDING_FINDER_OKXX_URL": "http://127.0.0.1:9",
        }
        result = CliRunner(env=env).invoke(
            main, ["collect", "--once", "--exchanges", "okx", "--db", str(tmp_path / "f.db")]
        )
    assert result.exit_code == 0, result.output
    logged = " ".join(result.output.split())
    assert "FUNDING_FINDER_OKXX_URL names no venue" in logged
    assert "FUNDING_FINDER_OKX_URL names" not in logged
