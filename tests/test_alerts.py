"""Alerts against databases filled through the simulator, delivered to a local HTTP receiver.

The net-APR figures are the hand-checked BTC pair of tests/test_cli_top.py (Coinbase International
BTC-PERP long at -0.008291 per hour, Kraken PI_XBTUSD short): net APR 73.24485 over 168 h.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from fakes import Receiver
from funding_finder.alerts import (
    AlertConfig,
    Alerter,
    ConfigError,
    FailureRateRule,
    NetAprRule,
    StaleRule,
    alert_state,
    load_config,
    parse_config,
    venue_liveness,
)
from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import VENUES
from funding_finder.simulator import Simulator
from funding_finder.store import Store, database_url, metadata

PG_URL = os.environ.get("FUNDING_FINDER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def all_venues(tmp_path_factory):
    store = Store(str(tmp_path_factory.mktemp("alerts") / "funding.db"))
    with Simulator(latency_ms=0) as sim:
        config = CollectorConfig(base_urls={v: sim.venue_url(v) for v in VENUES})
        Collector(store, list(VENUES), config).run_cycle()
    yield store
    store.close()


def test_net_apr_alert_posts_the_pair_once_while_it_stands(all_venues):
    config = AlertConfig((NetAprRule(above=1.0, asset="BTC"),), webhook_url=None)
    with Receiver() as hook:
        config = AlertConfig(config.rules, webhook_url=hook.url, webhook_timeout_s=2)
        alerter = Alerter(config, all_venues)
        fired, cleared = alerter.run()
        assert [c.key for c in fired] == ["net_apr>1@168h:BTC"] and cleared == []
        (posted,) = hook.posted
        assert posted["content_type"] == "application/json"
        assert posted["path"] == "/hook"
        assert (posted["status"], posted["rule"], posted["subject"]) == ("firing", "net_apr", "BTC")
        assert posted["value"] == pytest.approx(1.046098, rel=1e-6)  # tests/test_cli_top.py
        assert posted["threshold"] == 1.0
        assert posted["details"]["long"] == {"exchange": "dydx", "native_symbol": "BTC-USD"}
        assert posted["details"]["short"] == {"exchange": "krakenfutures", "native_symbol": "PI_XBTUSD"}
        assert posted["details"]["hold_hours"] == 168
        assert "BTC: net APR 104.61 % over 168 h above 100.00 %" in posted["message"]
        assert alerter.run() == ([], [])  # still standing: nothing new
        assert Alerter(config, all_venues).run() == ([], [])  # a restart remembers it
        assert len(hook.posted) == 1
        # the same pair above a threshold it does not reach: the BTC condition of that rule clears
        higher = AlertConfig((NetAprRule(above=1.1, asset="BTC"),), hook.url, 2)
        fired, cleared = Alerter(higher, all_venues).run()
        assert fired == [] and cleared == ["net_apr>1@168h:BTC"]
        resolved = hook.posted[-1]
        assert (resolved["status"], resolved["key"]) == ("resolved", "net_apr>1@168h:BTC")
        assert (resolved["rule"], resolved["subject"]) == ("net_apr", "BTC")
        assert resolved["message"].startswith("resolved: BTC: net APR")
    with all_venues.engine.connect() as conn:
        assert conn.execute(text("select count(*) from alert_state")).scalar() == 0


def test_net_apr_without_an_asset_alerts_every_asset_above(all_venues):
    from funding_finder.arbitrage import Filters, find_opportunities

    legs = frozenset({"hyperliquid", "dydx"})
    scan = find_opportunities(all_venues.latest_rates(), hold_hours=168, filters=Filters(exchanges=legs))
    net = sorted(o.net_apr for o in scan.opportunities)
    threshold = net[len(net) // 2]  # the median pair: about half the assets are above it
    above = {o.asset for o in scan.opportunities if o.net_apr > threshold}
    assert 0 < len(above) < len(net)
    alerter = Alerter(AlertConfig((NetAprRule(above=threshold, exchanges=legs),)), all_venues)
    fired, _ = alerter.run()
    assert {c.subject for c in fired} == above
    assert len(fired) == len(above)
    assert all(c.value > threshold for c in fired)
    assert all({c.details["long"]["exchange"], c.details["short"]["exchange"]} == legs for c in fired)
    with all_venues.engine.begin() as conn:
        conn.execute(alert_state.delete())


def stores():
    yield "sqlite"
    yield "postgresql"


@pytest.fixture(params=list(stores()))
def store(request, tmp_path):
    if request.param == "sqlite":
        made = Store(str(tmp_path / "funding.db"))
    else:
        engine = create_engine(database_url(PG_URL))
        try:
            with engine.connect():
                pass
        except Exception:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is not reachable at {PG_URL}")
            pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
        alert_state.drop(engine, checkfirst=True)
        metadata.drop_all(engine)
        engine.dispose()
        made = Store(PG_URL)
    yield made
    made.close()


def test_failure_rate_fires_once_and_resolves_as_the_window_clears(store):
    venues = ["gate", "hyperliquid"]
    rule = FailureRateRule(above_pct=40, cycles=3, venue=None)
    with Simulator(latency_ms=0) as sim, Receiver() as hook:
        collector = Collector(
            store, venues, CollectorConfig(base_urls={v: sim.venue_url(v) for v in venues}, retries=0)
        )
        alerter = Alerter(AlertConfig((rule,), hook.url, 2), store)
        history = []
        for fault in ("http500", None, None, None):
            sim.set_fault("gate", fault)
            collector.run_cycle()
            history.append(alerter.run())
            if len(history) == 2:  # restart between two evaluations: nothing alerted again
                alerter = Alerter(AlertConfig((rule,), hook.url, 2), store)
    key = "failure_rate>40%/3:gate"
    assert [([c.key for c in fired], cleared) for fired, cleared in history] == [
        ([key], []),  # 1 of 1 runs failed: 100 %
        ([], []),  # 1 of 2: 50 %, still above 40
        ([], [key]),  # 1 of 3: 33 %
        ([], []),
    ]
    assert history[0][0][0].value == 100.0
    assert [(p["status"], p["key"]) for p in hook.posted] == [("firing", key), ("resolved", key)]
    assert hook.posted[0]["details"] == {"failed_runs": 1, "runs": 1}
    assert hook.posted[0]["message"] == "gate: 1 of its last 1 runs brought no rows (100 %, above 40 %)"
    assert hook.posted[1]["since"] == hook.posted[0]["since"]


def test_a_failing_webhook_is_counted_and_the_alert_posted_again_later(store, caplog):
    venues = ["gate"]
    with Simulator(latency_ms=0, faults={"gate": "http500"}) as sim, Receiver(status=500) as hook:
        Collector(
            store, venues, CollectorConfig(base_urls={"gate": sim.venue_url("gate")}, retries=0)
        ).run_cycle()
        config = AlertConfig((FailureRateRule(above_pct=50, cycles=5),), hook.url, 2)
        alerter = Alerter(config, store)
        fired, _ = alerter.run()
        assert [c.subject for c in fired] == ["gate"]
        assert (alerter.stats.webhook_posts, alerter.stats.webhook_failures) == (1, 1)
        assert "alert webhook" in caplog.text and "500" in caplog.text
        assert alerter.standing()["failure_rate>50%/5:gate"].delivered is False
        alerter.run()  # still failing: posted again, counted again
        assert (alerter.stats.webhook_posts, alerter.stats.webhook_failures) == (2, 2)
        hook.status = 200
        assert alerter.run() == ([], [])  # no new condition, but the undelivered one goes out
        assert alerter.stats.webhook_posts == 3
        assert alerter.standing()["failure_rate>50%/5:gate"].delivered is True
        alerter.run()
        assert alerter.stats.webhook_posts == 3
        assert [p["status"] for p in hook.posted] == ["firing"] * 3
    # a webhook nobody listens on: a connection error, counted, never raised. The rule changed, so the
    # new rule's condition fires and the old one's resolves; after the first failed POST the other waits
    dead = Alerter(AlertConfig((FailureRateRule(above_pct=10, cycles=5),), hook.url, 0.5), store)
    fired, cleared = dead.run()
    assert ([c.key for c in fired], cleared) == (["failure_rate>10%/5:gate"], ["failure_rate>50%/5:gate"])
    stats = dead.stats
    assert (stats.fired, stats.resolved, stats.webhook_posts, stats.webhook_failures) == (1, 1, 1, 1)
    assert stats.webhook_deferred == 1
    assert "1 more alert(s) not posted" in caplog.text


def test_stale_rule_counts_minutes_since_the_last_live_rows(store):
    venues = ["gate", "hyperliquid"]  # gate's recorded settlements are past: never live
    with Simulator(latency_ms=0) as sim:
        Collector(store, venues, CollectorConfig(base_urls={v: sim.venue_url(v) for v in venues})).run_cycle()
    liveness = venue_liveness(store)
    (cycle,) = store.cycles(1)
    assert liveness == {"gate": (cycle.started_at, None), "hyperliquid": (cycle.started_at, cycle.started_at)}
    rule = StaleRule(minutes=10)
    soon = Alerter(AlertConfig((rule,)), store, now=lambda: cycle.started_at + timedelta(minutes=9.9))
    assert soon.run() == ([], [])
    later = Alerter(AlertConfig((rule,)), store, now=lambda: cycle.started_at + timedelta(minutes=10))
    fired, _ = later.run()
    by_venue = {c.subject: c for c in fired}
    assert set(by_venue) == {"gate", "hyperliquid"}
    assert by_venue["gate"].message == "gate: no live data for 10 min (no live rows yet)"
    assert by_venue["hyperliquid"].details["last_live"] == by_venue["hyperliquid"].details["first_seen"]
    only_gate = StaleRule(minutes=10, venue="gate")
    with store.engine.begin() as conn:
        conn.execute(alert_state.delete())
    fired, _ = Alerter(AlertConfig((only_gate,)), store, now=later.now).run()
    assert [c.key for c in fired] == ["stale>=10min:gate"]
    # a second cycle repeats hyperliquid's recorded values: not live, so its last live rows stay the
    # first cycle's
    with Simulator(latency_ms=0) as sim:
        Collector(store, venues, CollectorConfig(base_urls={v: sim.venue_url(v) for v in venues})).run_cycle()
    second, first = store.cycles(2)
    assert {run.exchange: run.live for run in second.venues} == {"gate": False, "hyperliquid": False}
    assert venue_liveness(store) == {
        "gate": (first.started_at, None),
        "hyperliquid": (first.started_at, first.started_at),
    }


SAMPLE = """
[webhook]
url = "http://127.0.0.1:9000/hook"
timeout_s = 3

[[net_apr]]
asset = "btc"
above = 0.30

[[net_apr]]
above = 1.0
hold_hours = 24
exchanges = ["binance", "okx", "bybit"]

[[failure_rate]]
above_pct = 20
cycles = 12

[[stale]]
venue = "OKX"
minutes = 15
"""


def test_the_sample_config_parses_into_rules(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text(SAMPLE)
    config = load_config(path)
    assert config.webhook_url == "http://127.0.0.1:9000/hook" and config.webhook_timeout_s == 3.0
    assert config.rules == (
        NetAprRule(above=0.3, asset="BTC"),
        NetAprRule(above=1.0, hold_hours=24.0, exchanges=frozenset({"binance", "okx", "bybit"})),
        FailureRateRule(above_pct=20.0, cycles=12),
        StaleRule(minutes=15.0, venue="okx"),
    )


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"net_apr": [{"above": "0.3"}]}, "[[net_apr]] #1: `above` must be a finite number"),
        ({"net_apr": [{"abov": 0.3}]}, "unknown field(s) abov"),
        ({"failure_rate": [{"above_pct": 20, "cycles": 0}]}, "`cycles` must be a whole number"),
        ({"failure_rate": [{"above_pct": 120}]}, "`above_pct` must be from 0 to below 100"),
        ({"stale": [{"minutes": -1}]}, "`minutes` must be above 0"),
        ({"stale": {"minutes": 5}}, "must be an array of tables ([[stale]])"),
        ({"webhook": {"url": "ftp://x"}}, "`url` must be an http(s) URL"),
        ({"alerts": []}, "unknown field(s) alerts"),
    ],
)
def test_a_bad_config_names_the_table_and_field(document, says):
    with pytest.raises(ConfigError) as raised:
        parse_config(document, "alerts.toml")
    assert says in str(raised.value)


def test_an_unreadable_or_invalid_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[stale]\nminutes = 5\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)


def test_the_readme_sample_config_parses():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    sample = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    config = parse_config(__import__("tomllib").loads(sample), "README")
    assert config.webhook_url == "http://127.0.0.1:9000/hook"
    assert config.rules == (
        NetAprRule(above=0.3, asset="BTC", exchanges=frozenset({"binance", "okx", "bybit"})),
        FailureRateRule(above_pct=20.0, cycles=12, venue="okx"),
        StaleRule(minutes=15.0),
    )
