"""End to end through the simulator: real recorded responses at the venues' real paths."""

import dataclasses
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from fakes import ScriptedServer
from funding_finder.collector import Collector, CollectorConfig, url_overrides, venue_is_live
from funding_finder.exchanges import VENUES, binance, mexc
from funding_finder.exchanges.base import BuildResult, Endpoint, Role, VenueSpec
from funding_finder.fanout import fan_out
from funding_finder.http import VenueClient
from funding_finder.model import make_rate, mark_not_live
from funding_finder.ratelimit import Limit, RateGate
from funding_finder.recordings import load_bytes, load_json
from funding_finder.simulator import Simulator
from funding_finder.store import Store

JSON = {"Content-Type": "application/json"}
INSTRUMENTS = "instruments-SWAP__nautilus.json"


@pytest.fixture(scope="module")
def sim():
    with Simulator(latency_ms=0) as running:
        yield running


@pytest.fixture
def store(tmp_path):
    made = Store(str(tmp_path / "funding.db"))
    yield made
    made.close()


def collector_for(store, sim, venue_ids=tuple(VENUES), **config):
    base_urls = {venue_id: sim.venue_url(venue_id) for venue_id in venue_ids}
    return Collector(store, list(venue_ids), CollectorConfig(base_urls=base_urls, **config))


def test_a_cycle_stores_every_venue_with_recorded_values(store, sim):
    sim.reset()
    result = collector_for(store, sim).run_cycle()

    stats = sim.stats()["venues"]
    assert sim.stats()["total_violations"] == 0
    for run in result.runs:
        assert run.rows > 0, run
        unrecorded = stats[run.exchange]["rejected"]  # calls no recording answers (the 404 of the simulator)
        if unrecorded:
            assert run.failures == {"http_4xx": unrecorded}, run
        else:
            assert (run.status, run.failures) == ("ok", {}), run
    assert {run.exchange for run in result.runs if run.status != "ok"} == {
        "binance",
        "bitget",
        "gate",
        "deribit",
    }
    assert result.status == "partial"
    rows = {(row.exchange, row.native_symbol): row for row in store.latest_rates()}
    assert len(rows) == result.rows
    btc = rows[("binance", "BTCUSDT")]
    assert (btc.funding_rate, btc.interval_hours, btc.symbol, btc.contract_type) == (
        0.00009398,
        8,
        "BTC/USDT:USDT",
        "linear",
    )
    assert btc.next_funding_time == datetime(2026, 7, 4, 16, tzinfo=UTC)
    assert btc.mark_price == 62909.9 and btc.index_price == 62928.61695652
    assert btc.flags == ("stale",)  # a replayed 2026-07 recording settles before today's observation
    gate_row = rows[("gate", "2Z_USDT")]
    assert (gate_row.funding_rate, gate_row.interval_hours) == (0.00005, 4)
    assert gate_row.next_funding_time == datetime.fromtimestamp(1787860800, UTC)
    cycle = store.cycles()[0]
    assert cycle.status == "partial" and cycle.finished_at is not None
    assert {run.exchange: run.rows for run in cycle.venues} == {run.exchange: run.rows for run in result.runs}
    for run in cycle.venues:
        assert run.requests == stats[run.exchange]["requests"], run
        if VENUES[run.exchange].SPEC.per_instrument is None:
            assert run.requests == len(VENUES[run.exchange].SPEC.endpoints), run


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("html", "http_5xx"),
        ("http500", "http_5xx"),
        ("drop", "connection"),
        ("truncated", "bad_json"),
        ("empty", "empty"),
    ],
)
def test_one_failing_venue_costs_only_that_venue(store, sim, fault, kind):
    sim.reset()
    sim.set_fault("kucoin", fault)
    try:
        result = collector_for(store, sim, ("okx", "kucoin", "hyperliquid"), retries=1).run_cycle()
    finally:
        sim.set_fault("kucoin", None)
    assert result.status == "partial"
    runs = {run.exchange: run for run in store.cycles()[0].venues}
    assert runs["kucoin"].status == "failed" and runs["kucoin"].rows == 0
    assert runs["kucoin"].failures == {kind: 1}
    assert runs["kucoin"].requests == (2 if kind in ("http_5xx", "connection") else 1)
    assert runs["kucoin"].error.startswith("kucoin contracts-active:")
    assert runs["okx"].status == "ok" and runs["hyperliquid"].status == "ok"
    stored = {row.exchange for row in store.latest_rates()}
    assert stored == {"okx", "hyperliquid"}


def test_a_hung_venue_hits_its_deadline_and_the_others_are_kept(store, sim):
    sim.reset()
    sim.set_fault("okx", "hang")
    try:
        result = collector_for(store, sim, ("okx", "kucoin"), venue_deadline_s=1.0, retries=0).run_cycle()
    finally:
        sim.set_fault("okx", None)
    runs = {run.exchange: run for run in result.runs}
    assert runs["okx"].status == "deadline" and runs["okx"].failures.get("deadline", 0) >= 1
    assert runs["okx"].duration_s < 3
    assert runs["kucoin"].status == "ok" and runs["kucoin"].rows == 44
    assert store.cycles()[0].status == "partial"


def okx_server(instruments: tuple[int, dict, bytes, float]) -> ScriptedServer:
    rates = load_bytes("okx", "public-funding-rate-instId-ANY.derived.json")
    return ScriptedServer(
        routes={
            "/api/v5/public/funding-rate": (200, JSON, rates, 0.0),
            "/api/v5/public/instruments": instruments,
        }
    )


GOOD_LIST = (200, JSON, load_bytes("okx", INSTRUMENTS), 0.0)


def test_a_failed_instrument_list_falls_back_to_the_stored_one(store):
    failing = (500, JSON, b'{"code":"50001","msg":"Service temporarily unavailable","data":[]}', 0.0)
    with okx_server(GOOD_LIST) as server:
        config = CollectorConfig(base_urls={"okx": server.url}, retries=0, instruments_max_age_s=0)
        listed_rows = Collector(store, ["okx"], config).run_cycle().runs[0].rows
        server.routes["/api/v5/public/instruments"] = failing
        second = Collector(store, ["okx"], config).run_cycle()
    run = second.runs[0]
    assert run.status == "ok" and run.failures == {"http_5xx": 1}
    assert run.rows == listed_rows == 3
    assert all("unfiltered" not in row.flags for row in store.latest_rates())


def test_a_wrong_shaped_instrument_list_is_counted_and_never_replaces_the_stored_one(store):
    wrong_shape = (200, JSON, b'{"code":"0","msg":""}', 0.0)
    with okx_server(GOOD_LIST) as server:
        config = CollectorConfig(base_urls={"okx": server.url}, retries=0, instruments_max_age_s=0)
        collector = Collector(store, ["okx"], config)
        listed_rows = collector.run_cycle().runs[0].rows
        server.routes["/api/v5/public/instruments"] = wrong_shape
        for _ in range(2):  # the second time, the stored list must still be the good one
            run = Collector(store, ["okx"], config).run_cycle().runs[0]
            assert run.status == "ok" and run.failures == {"bad_payload": 1}
            assert run.rows == listed_rows
            assert all("unfiltered" not in row.flags for row in store.latest_rates())
        stored, _ = store.stored_instruments("okx", collector._list_key("okx", "instruments"))
    assert len(stored["data"]) == len(load_json("okx", INSTRUMENTS)["data"])


def test_a_list_stored_from_another_url_never_stands_in_for_this_ones(store, sim):
    collector_for(store, sim, ("okx",)).run_cycle()  # the simulator's list, stored and fresh
    failing = (503, {"Content-Type": "text/html"}, b"<html>unavailable</html>", 0.0)
    with okx_server(failing) as server:
        config = CollectorConfig(base_urls={"okx": server.url}, retries=0)
        run = Collector(store, ["okx"], config).run_cycle().runs[0]
        asked = [path for path, _ in server.seen if "/instruments" in path]
    assert len(asked) == 1  # not skipped as fresh: the stored list came from elsewhere
    assert run.failures == {"http_5xx": 1}
    assert all("unfiltered" in row.flags for row in store.latest_rates())


def test_a_recently_stored_instrument_list_is_used_without_asking_again(store, sim):
    sim.reset()
    first = collector_for(store, sim, ("okx", "deribit")).run_cycle()
    sim.reset()
    second = collector_for(store, sim, ("okx", "deribit")).run_cycle()
    assert {run.exchange: run.rows for run in first.runs} == {"okx": 3, "deribit": 1}
    assert {run.exchange: run.rows for run in second.runs} == {"okx": 3, "deribit": 1}
    calls = {venue: sim.stats()["venues"][venue]["by_endpoint"] for venue in ("okx", "deribit")}
    assert calls["okx"] == {"/api/v5/public/funding-rate": 1}  # the list came from the store
    # Deribit's BTC and USDC lists came from the store; ETH and USDT were never recorded, so no
    # list was stored and they are asked for again
    assert calls["deribit"]["/api/v2/public/get_instruments"] == 2
    third = collector_for(store, sim, ("okx",), instruments_max_age_s=0).run_cycle()
    assert third.runs[0].requests == 2  # 0: every list every cycle


def test_without_any_instrument_list_rows_are_kept_and_flagged_unfiltered(tmp_path):
    store = Store(str(tmp_path / "fresh.db"))
    failing = (503, {"Content-Type": "text/html"}, b"<html>unavailable</html>", 0.0)
    with okx_server(failing) as server:
        result = Collector(
            store, ["okx"], CollectorConfig(base_urls={"okx": server.url}, retries=0)
        ).run_cycle()
    rows = store.latest_rates()
    assert result.runs[0].status == "ok" and result.runs[0].failures == {"http_5xx": 1}
    assert len(rows) == 3 and all(row.flags == ("stale", "unfiltered") for row in rows)  # a 2026-09 replay
    store.close()


def test_sixty_calls_from_sixteen_threads_stay_under_mexcs_limit_by_the_simulators_count(sim):
    sim.reset()
    client = VenueClient(
        mexc.SPEC, RateGate("mexc", mexc.SPEC.limits), base_urls={"api": sim.venue_url("mexc")}
    )
    ticker = mexc.SPEC.endpoint("ticker")
    result = fan_out(range(60), lambda _: client.fetch(ticker), workers=16)
    stats = sim.stats()["venues"]["mexc"]
    assert len(result.results) == 60 and not result.failures
    assert stats["requests"] == 60
    assert stats["violations"] == 0


def test_url_overrides_come_from_the_environment():
    environ = {"FUNDING_FINDER_GATE_URL": "http://127.0.0.1:9000/gate", "FUNDING_FINDER_OKX_URL": ""}
    assert url_overrides(["gate", "okx", "binance"], environ) == {"gate": "http://127.0.0.1:9000/gate"}
    assert binance.SPEC.hosts == {"api": "https://fapi.binance.com", "dapi": "https://dapi.binance.com"}


def test_one_override_replaces_every_host_of_a_venue(store):
    collector = Collector(
        store, ["binance"], CollectorConfig(base_urls={"binance": "http://127.0.0.1:9/binance"})
    )
    client = collector.clients["binance"]
    assert {client.url_of(endpoint) for endpoint in binance.SPEC.endpoints} == {
        f"http://127.0.0.1:9/binance{endpoint.path}" for endpoint in binance.SPEC.endpoints
    }


def _toy_rows(payloads, observed_at, names):
    rows = [
        make_rate(
            exchange="toy",
            native_symbol=name,
            listed_base=name,
            quote="USDT",
            settle="USDT",
            contract_type="linear",
            funding_rate=float(rate),
            interval_hours=8,
            next_funding_time=None,
            observed_at=observed_at,
        )
        for name, rate in names
    ]
    return BuildResult(rows)


def toy_venue(endpoints, build, per_instrument=None):
    spec = VenueSpec(
        id="toy",
        name="Toy",
        hosts={"api": "http://unused.invalid"},
        endpoints=tuple(endpoints),
        limits=(Limit("ip", 100, 1.0),),
        docs_url="",
        per_instrument=per_instrument,
    )
    return SimpleNamespace(SPEC=spec, build_rows=build)


def test_a_failed_rate_family_keeps_the_other_familys_rows_and_marks_the_venue_partial(store):
    def build(payloads, observed_at):
        assert payloads["inverse"] is None  # the failed family arrives as None
        return _toy_rows(payloads, observed_at, payloads["linear"])

    venue = toy_venue([Endpoint("linear", "/linear"), Endpoint("inverse", "/inverse")], build)
    routes = {
        "/linear": (200, JSON, b'[["AAA", "0.0001"], ["BBB", "-0.0002"]]', 0.0),
        "/inverse": (502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>", 0.0),
    }
    with ScriptedServer(routes=routes) as server:
        config = CollectorConfig(base_urls={"toy": server.url}, retries=0)
        result = Collector(store, [venue], config).run_cycle()
    (run,) = result.runs
    assert (result.status, run.status, run.rows, run.requests) == ("partial", "partial", 2, 2)
    assert run.failures == {"http_5xx": 1} and run.error.startswith("toy inverse: HTTP 502")
    assert {row.native_symbol: row.funding_rate for row in store.latest_rates()} == {
        "AAA": 0.0001,
        "BBB": -0.0002,
    }


def test_a_venue_without_a_bulk_endpoint_fans_out_one_call_per_listed_instrument(store):
    planned_in: list[int] = []

    def plan(payloads, cycle):
        planned_in.append(cycle)
        return [Endpoint("rate", f"/rate/{name}", instrument=name) for name in payloads["instruments"]]

    def build(payloads, observed_at):
        return _toy_rows(payloads, observed_at, sorted(payloads["rate"].items()))

    venue = toy_venue([Endpoint("instruments", "/instruments", Role.INSTRUMENTS)], build, plan)
    routes = {
        "/instruments": (200, JSON, b'["AAA", "BBB", "CCC"]', 0.0),
        "/rate/AAA": (200, JSON, b'"0.0001"', 0.0),
        "/rate/BBB": (200, JSON, b'"0.0003"', 0.0),
        "/rate/CCC": (500, JSON, b'{"error": "internal"}', 0.0),
    }
    with ScriptedServer(routes=routes) as server:
        config = CollectorConfig(base_urls={"toy": server.url}, retries=0)
        (run,) = Collector(store, [venue], config).run_cycle().runs
        paths = sorted(path for path, _ in server.seen)
    assert paths == ["/instruments", "/rate/AAA", "/rate/BBB", "/rate/CCC"]
    assert planned_in == [0]  # the first round; a rotating venue gets 1, 2, ... in later cycles
    assert (run.status, run.rows, run.requests, run.failures) == ("partial", 2, 4, {"http_5xx": 1})
    assert {row.native_symbol: row.funding_rate for row in store.latest_rates()} == {
        "AAA": 0.0001,
        "BBB": 0.0003,
    }


def test_a_replayed_venue_is_not_live_and_a_venue_settling_ahead_is(store, sim):
    sim.reset()
    runs = {
        run.exchange: run for run in collector_for(store, sim, ("hyperliquid", "binance")).run_cycle().runs
    }
    assert runs["binance"].live is False  # every recorded settlement time is in the past
    assert runs["hyperliquid"].live is True  # settles at the next full hour after observation
    assert {run.exchange: run.live for run in store.cycles()[0].venues} == {
        "binance": False,
        "hyperliquid": True,
    }
    hyperliquid_rows = store.latest_rates(["hyperliquid"])
    assert hyperliquid_rows and not any("stale" in row.flags for row in hyperliquid_rows)


def _row(symbol, observed_at, mark_price, next_funding_time):
    return make_rate(
        exchange="toy",
        native_symbol=symbol,
        listed_base=symbol,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0001,
        interval_hours=1,
        next_funding_time=next_funding_time,
        observed_at=observed_at,
        mark_price=mark_price,
    )


def test_a_venue_repeating_every_value_of_its_previous_cycle_is_not_live():
    t0, t1 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC), datetime(2026, 12, 4, 4, 5, tzinfo=UTC)
    settles = datetime(2026, 12, 4, 5, tzinfo=UTC)
    before = [_row("AAA", t0, 10.0, settles), _row("BBB", t0, 20.0, settles)]
    frozen = [_row("AAA", t1, 10.0, settles), _row("BBB", t1, 20.0, settles)]
    moving = [_row("AAA", t1, 10.0, settles), _row("BBB", t1, 20.5, settles)]
    assert venue_is_live(frozen, before) is False
    assert venue_is_live(moving, before) is True
    assert venue_is_live(frozen, []) is True  # first sight: nothing to compare with
    assert venue_is_live([_row("AAA", t1, 10.0, t0)], []) is False  # settled in the past
    assert mark_not_live(frozen[0]).flags == ("stale",)


def test_at_the_cycle_deadline_answered_rates_are_kept_and_an_abandoned_rate_call_makes_the_venue_partial(
    store,
):
    def build(payloads, observed_at):
        assert payloads["slow-rates"] is None and payloads["slow-extra"] is None
        return _toy_rows(payloads, observed_at, payloads["rates"])

    endpoints = [
        Endpoint("rates", "/rates"),
        Endpoint("slow-rates", "/slow-rates"),
        Endpoint("slow-extra", "/slow-extra", Role.EXTRA),
    ]
    venue = toy_venue(endpoints, build)
    routes = {
        "/rates": (200, JSON, b'[["AAA", "0.0001"]]', 0.0),
        "/slow-rates": (200, JSON, b"[]", 3.0),
        "/slow-extra": (200, JSON, b"[]", 3.0),
    }
    with ScriptedServer(routes=routes) as server:
        config = CollectorConfig(base_urls={"toy": server.url}, retries=0, cycle_deadline_s=1.0)
        result = Collector(store, [venue], config).run_cycle()
    (run,) = result.runs
    assert (run.status, run.rows, run.failures) == ("partial", 1, {"deadline": 2})
    assert run.error == "deadline: rate calls abandoned" and result.status == "partial"
    assert [row.native_symbol for row in store.latest_rates()] == ["AAA"]


@pytest.mark.parametrize("value", ["not a url", "ftp://127.0.0.1/x", "http://", "http://host/x?y=1"])
def test_a_malformed_url_override_is_refused_naming_the_variable(value):
    with pytest.raises(ValueError, match="FUNDING_FINDER_HTX_URL"):
        url_overrides(["htx"], {"FUNDING_FINDER_HTX_URL": value})


def test_a_429_is_counted_with_the_pause_it_caused_and_the_limits_used(store):
    rates = load_bytes("hyperliquid", "info-metaAndAssetCtxs__tripwire-mainnet.json")
    too_many = (429, {"Retry-After": "1", **JSON}, b'{"error":"too many requests"}', 0.0)
    with ScriptedServer(answers=[too_many, (200, JSON, rates, 0.0)]) as server:
        config = CollectorConfig(base_urls={"hyperliquid": server.url}, retries=1)
        run = Collector(store, ["hyperliquid"], config).run_cycle().runs[0]
    assert run.status == "ok" and run.requests == 2
    assert (run.rate_limited, run.pauses) == (1, 1)
    assert run.gate_wait_s >= 0.9  # the retry waited out Retry-After: 1 s
    stored = store.cycles()[0].venues[0]
    assert (stored.rate_limited, stored.pauses) == (1, 1)
    assert stored.limits == {"weight": (40, 1200)}  # two calls of weight 20: the refused one counts too
    assert stored.to_json()["limits"] == {"weight": {"used": 40, "allowed": 1200}}


def test_a_venues_calls_start_in_the_order_its_gate_can_let_them_leave(store, caplog):
    """Three lists held to 1 per 0.5 s and three quick rate calls, the lists first in the spec, two
    workers: the first list and the rate calls go first, the other lists after them, one a window
    after the other's answer, so no worker is parked on a list while a rate call could be made."""
    lists = [Endpoint(f"list-{name}", f"/list/{name}", Role.INSTRUMENTS) for name in "ABC"]
    rates = [Endpoint(f"rates-{name}", f"/rates/{name}") for name in "XYZ"]

    def build(payloads, observed_at):
        assert all(payloads[endpoint.name] == [] for endpoint in lists)
        return _toy_rows(payloads, observed_at, [(name, payloads[f"rates-{name}"]) for name in "XYZ"])

    venue = toy_venue([*lists, *rates], build)
    venue.SPEC = dataclasses.replace(
        venue.SPEC,
        limits=(
            Limit("ip", 100, 1.0),
            Limit("lists", 1, 0.5, costs={endpoint.name: 1 for endpoint in lists}, default_cost=0),
        ),
        workers=2,
    )
    routes = {
        **{f"/list/{name}": (200, JSON, b"[]", 0.0) for name in "ABC"},
        **{f"/rates/{name}": (200, JSON, b'"0.0001"', 0.0) for name in "XYZ"},
    }
    caplog.set_level(logging.INFO, logger="funding_finder.collector")
    with ScriptedServer(routes=routes) as server:
        config = CollectorConfig(base_urls={"toy": server.url}, retries=0)
        (run,) = Collector(store, [venue], config).run_cycle().runs
        seen = [path for path, _ in server.seen]
    assert (run.status, run.rows, run.requests) == ("ok", 3, 6)
    assert set(seen[:4]) == {"/list/A", "/rates/X", "/rates/Y", "/rates/Z"}
    assert seen[4:] == ["/list/B", "/list/C"]
    assert "toy: 6 calls, at most 2 in flight" in caplog.text
