"""The simulator serves recorded bytes at the venues' real paths, under the venues' published limits."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import threading
import time

import pytest
import requests

from funding_finder.recordings import load_bytes
from funding_finder.simulator import FAULT_KINDS, Simulator, serve_forever
from funding_finder.simulator.latency import Latency
from funding_finder.simulator.limits import LIMITS
from funding_finder.simulator.routes import EMPTY_BODIES, ROUTES, VENUES, RouteKey
from funding_finder.simulator.window import Limiter

OKX_FUNDING = "/api/v5/public/funding-rate"
MEXC_TICKER = "/api/v1/contract/ticker"
GATE_CONTRACTS = "/api/v4/futures/usdt/contracts"


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim():
    with Simulator(latency_ms=0) as simulator:
        yield simulator


def call(sim: Simulator, key: RouteKey, **kwargs) -> requests.Response:
    url = sim.venue_url(key.venue) + key.path
    if key.method == "POST":
        return requests.post(url, json=dict(key.match), timeout=10, **kwargs)
    return requests.get(url, params=dict(key.match), timeout=10, **kwargs)


def okx(sim: Simulator, inst_id: str = "ANY") -> requests.Response:
    return requests.get(sim.venue_url("okx") + OKX_FUNDING, params={"instId": inst_id}, timeout=10)


# -- routes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(ROUTES), ids=lambda k: f"{k.venue}{k.path}{dict(k.match) or ''}")
def test_every_route_returns_exactly_the_recorded_bytes(sim, key):
    response = call(sim, key)
    assert response.status_code == 200
    assert response.content == load_bytes(key.venue, ROUTES[key])


def test_every_venue_has_a_limits_row_and_an_empty_body():
    assert set(LIMITS) == set(VENUES) == set(EMPTY_BODIES)
    for limits in LIMITS.values():
        pools = {pool.name for pool in limits.pools}
        assert {name for charge in limits.charges for name, _ in charge.costs} <= pools
        assert {header.pool for header in limits.headers} <= pools


def test_unknown_path_is_a_404_naming_venue_and_path(sim):
    response = requests.get(sim.venue_url("gate") + "/api/v4/futures/usdt/nothing", timeout=10)
    assert response.status_code == 404
    assert response.json()["venue"] == "gate"
    assert response.json()["path"] == "/api/v4/futures/usdt/nothing"
    outside = requests.get(sim.url + "/kraken/x", timeout=10)
    assert outside.status_code == 404
    assert outside.json()["venue"] == "kraken"


def test_unknown_instruments_get_the_venues_own_answers(sim):
    other = okx(sim, "XRP-USDT-SWAP")
    assert (other.status_code, other.json()["code"], other.json()["data"]) == (200, "51000", [])
    mexc = requests.get(sim.venue_url("mexc") + "/api/v1/contract/funding_rate/XRP_USDT", timeout=10)
    assert (mexc.status_code, mexc.json()["success"], mexc.json()["code"]) == (200, False, 1001)
    hyperliquid = requests.post(sim.venue_url("hyperliquid") + "/info", json={"type": "nope"}, timeout=10)
    assert hyperliquid.status_code == 422
    assert sim.stats()["venues"]["okx"]["rejected"] == 1


def test_bybit_ignores_parameters_no_route_names_but_not_a_different_symbol(sim):
    base = sim.venue_url("bybit") + "/v5/market/instruments-info"
    paged = requests.get(base, params={"category": "linear", "limit": "1000"}, timeout=10)
    assert paged.content == load_bytes("bybit", "v5-market-instruments-info-linear__cryptofeed-20260809.json")
    tickers = sim.venue_url("bybit") + "/v5/market/tickers"
    other = requests.get(tickers, params={"category": "linear", "symbol": "BTCUSDT"}, timeout=10)
    assert other.status_code == 404


# -- limits ----------------------------------------------------------------------------------------


def test_eleventh_okx_any_call_is_a_429_while_another_instid_still_passes(sim):
    answers = [okx(sim) for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert answers[-1].content == load_bytes("okx", "429.real-2024.json")
    assert okx(sim, "BTC-USDT-SWAP").status_code == 200
    venue = sim.stats()["venues"]["okx"]
    assert (venue["requests"], venue["violations"]) == (12, 1)
    assert sim.stats()["total_violations"] == 1


def test_twenty_first_mexc_call_gets_the_recorded_510_body_in_http_200(sim):
    url = sim.venue_url("mexc") + MEXC_TICKER
    answers = [requests.get(url, timeout=10) for _ in range(21)]
    assert all(
        a.content == load_bytes("mexc", ROUTES[RouteKey("mexc", "GET", MEXC_TICKER)]) for a in answers[:20]
    )
    assert answers[20].status_code == 200
    assert answers[20].content == load_bytes("mexc", "api-v1-contract-ticker-error510__arb-chain-bot.json")
    assert sim.stats()["venues"]["mexc"]["violations"] == 1


def test_binance_weight_header_rises_by_10_per_premium_index_call(sim):
    url = sim.venue_url("binance") + "/fapi/v1/premiumIndex"
    used = [int(requests.get(url, timeout=10).headers["X-MBX-USED-WEIGHT-1M"]) for _ in range(3)]
    assert used == [10, 20, 30]


def test_binance_over_weight_is_a_429_with_retry_after_and_the_limit_in_the_message():
    binance = LIMITS["binance"]
    weight = dataclasses.replace(binance.pool("weight"), capacity=25)
    small = {**LIMITS, "binance": dataclasses.replace(binance, pools=(weight, binance.pool("funding")))}
    clock = FakeClock()
    with Simulator(latency_ms=0, clock=clock, limits=small) as sim:
        url = sim.venue_url("binance") + "/fapi/v1/premiumIndex"
        assert [requests.get(url, timeout=10).status_code for _ in range(2)] == [200, 200]
        clock.now += 15
        over = requests.get(url, timeout=10)
    assert over.status_code == 429
    assert over.headers["Retry-After"] == "45"  # the first call leaves the 60 s window at +60
    assert over.headers["X-MBX-USED-WEIGHT-1M"] == "20"
    assert over.json() == {
        "code": -1003,
        "msg": "Too many requests; current limit is 25 requests per minute. "
        "Please use the websocket for live updates to avoid polling the API.",
    }


def test_binance_funding_info_shares_500_per_5_minutes_and_weighs_nothing():
    limiter, t = Limiter(LIMITS), 0.0
    admits = [limiter.admit("binance", "GET", "/fapi/v1/fundingInfo", {}, "ip", t) for _ in range(501)]
    assert [a.accepted for a in admits] == [True] * 500 + [False]
    assert admits[-1].pool.name == "funding"
    assert admits[-1].retry_after_s == 300
    assert admits[-2].headers["X-MBX-USED-WEIGHT-1M"] == "0"
    assert not limiter.admit(
        "binance", "GET", "/fapi/v1/fundingRate", {"symbol": "BTCUSDT"}, "ip", t
    ).accepted


def test_windows_slide_rather_than_reset_on_a_fixed_edge():
    clock = FakeClock(1.5)
    with Simulator(latency_ms=0, clock=clock) as sim:
        assert [okx(sim).status_code for _ in range(10)] == [200] * 10
        clock.now = 2.5  # a fixed 2 s window would have restarted at 2.0
        assert okx(sim).status_code == 429
        clock.now = 3.5  # (1.5, 3.5] no longer holds the calls made at 1.5
        assert okx(sim).status_code == 200


def test_an_over_limit_request_consumes_no_capacity():
    clock = FakeClock(0.0)
    with Simulator(latency_ms=0, clock=clock) as sim:
        assert [okx(sim).status_code for _ in range(10)] == [200] * 10
        clock.now = 1.0
        assert [okx(sim).status_code for _ in range(10)] == [429] * 10
        clock.now = 2.0
        assert [okx(sim).status_code for _ in range(10)] == [200] * 10
        assert sim.stats()["venues"]["okx"]["violations"] == 10


def test_gate_headers_count_down_per_endpoint(sim):
    url = sim.venue_url("gate") + GATE_CONTRACTS
    first, second = requests.get(url, timeout=10), requests.get(url, timeout=10)
    assert first.headers["X-Gate-RateLimit-Limit"] == "200"
    assert [
        first.headers["X-Gate-RateLimit-Requests-Remain"],
        second.headers["X-Gate-RateLimit-Requests-Remain"],
    ] == [
        "199",
        "198",
    ]
    reset = int(first.headers["X-Gate-RateLimit-Reset-Timestamp"])
    assert time.time() < reset <= time.time() + 11
    other = requests.get(sim.venue_url("gate") + "/api/v4/futures/usdt/tickers", timeout=10)
    assert other.headers["X-Gate-RateLimit-Requests-Remain"] == "199"


def test_stats_count_requests_per_venue_and_endpoint_and_reset_clears_them(sim):
    for _ in range(10):
        okx(sim)
    call(sim, RouteKey("gate", "GET", GATE_CONTRACTS))
    stats = requests.get(sim.url + "/_sim/stats", timeout=10).json()
    assert stats == sim.stats()
    assert stats["venues"]["okx"]["by_endpoint"] == {OKX_FUNDING: 10}
    assert stats["venues"]["gate"]["requests"] == 1
    assert stats["venues"]["bybit"]["requests"] == 0
    assert requests.post(sim.url + "/_sim/reset", timeout=10).status_code == 200
    assert sim.stats()["total_requests"] == 0
    assert okx(sim).status_code == 200  # the OKX window was cleared too


# -- faults ----------------------------------------------------------------------------------------

GATE = RouteKey("gate", "GET", GATE_CONTRACTS)
GATE_BYTES = load_bytes("gate", ROUTES[GATE])


def test_drop_closes_the_connection_without_an_answer():
    with Simulator(latency_ms=0, faults={"gate": "drop"}) as sim, pytest.raises(requests.ConnectionError):
        call(sim, GATE)


def test_html_is_a_502_html_page(sim):
    sim.set_fault("gate", "html")
    response = call(sim, GATE)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<html>")


def test_http500_is_a_500(sim):
    sim.set_fault("gate", "http500")
    assert call(sim, GATE).status_code == 500


def test_truncated_is_a_200_with_a_prefix_of_the_recording_that_is_not_json(sim):
    sim.set_fault("gate", "truncated")
    response = call(sim, GATE)
    assert response.status_code == 200
    assert 0 < len(response.content) < len(GATE_BYTES)
    assert GATE_BYTES.startswith(response.content)
    with pytest.raises(ValueError):
        json.loads(response.content)


@pytest.mark.parametrize(
    ("key", "rows"),
    [
        (RouteKey("okx", "GET", OKX_FUNDING, (("instId", "ANY"),)), lambda body: body["data"]),
        (
            RouteKey("bybit", "GET", "/v5/market/tickers", (("category", "linear"),)),
            lambda b: b["result"]["list"],
        ),
        (RouteKey("mexc", "GET", MEXC_TICKER), lambda body: body["data"]),
        (GATE, lambda body: body),
    ],
    ids=lambda v: getattr(v, "venue", ""),
)
def test_empty_is_the_venues_envelope_around_no_rows(sim, key, rows):
    sim.set_fault(key.venue, "empty")
    response = call(sim, key)
    assert response.status_code == 200
    assert rows(response.json()) == []


def test_hang_delays_only_its_venue():
    with Simulator(latency_ms=0, faults={"gate": "hang"}, hang_s=0.5) as sim:
        hung: list[requests.Response] = []
        started = time.monotonic()
        thread = threading.Thread(target=lambda: hung.append(call(sim, GATE)))
        thread.start()
        assert okx(sim).status_code == 200
        assert time.monotonic() - started < 0.4
        thread.join(5)
    assert hung[0].content == GATE_BYTES
    assert time.monotonic() - started >= 0.5


def test_stop_does_not_wait_for_a_hanging_request():
    sim = Simulator(latency_ms=0, faults={"gate": "hang"}).start()  # hang_s 30
    errors: list[Exception] = []

    def hang() -> None:
        try:
            call(sim, GATE)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    while sim.stats()["venues"]["gate"]["requests"] == 0:
        time.sleep(0.01)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 2
    thread.join(5)
    assert errors and not thread.is_alive()


def test_faults_are_set_and_cleared_at_runtime_over_http(sim):
    set_html = requests.post(sim.url + "/_sim/faults", json={"gate": "html"}, timeout=10)
    assert set_html.json() == {"faults": {"gate": "html"}}
    assert call(sim, GATE).status_code == 502
    requests.post(sim.url + "/_sim/faults", json={"gate": None}, timeout=10)
    assert call(sim, GATE).content == GATE_BYTES
    bad = requests.post(sim.url + "/_sim/faults", json={"gate": "smoke"}, timeout=10)
    assert bad.status_code == 400
    assert sim.faults == {}


def test_unknown_venue_or_fault_kind_is_refused():
    with pytest.raises(ValueError):
        Simulator(faults={"kraken": "html"})
    with pytest.raises(ValueError):
        Simulator(faults={"gate": "smoke"})
    assert set(FAULT_KINDS) >= {"html", "http500", "drop", "hang", "truncated", "empty"}


# -- latency and running ---------------------------------------------------------------------------


def test_default_latency_is_log_normal_around_150_ms_capped_and_seedable():
    latency = Latency(seed=7)
    draws = sorted(latency.draw() for _ in range(2001))
    assert 0.13 < draws[1000] < 0.17
    assert draws[-1] <= 2.0
    first, second = Latency(seed=3), Latency(seed=3)
    assert [first.draw() for _ in range(3)] == [second.draw() for _ in range(3)]
    assert Latency(0).draw() == 0.0
    assert Latency(40, sigma=0).draw() == pytest.approx(0.040)


def test_simulator_exposes_its_addresses(sim):
    assert sim.url.startswith("http://127.0.0.1:")
    assert sim.venue_url("gate") == sim.url + "/gate"
    assert sim.venues == VENUES
    with pytest.raises(ValueError):
        sim.venue_url("kraken")


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="needs signals")
def test_serve_forever_prints_its_url_and_a_summary_at_sigterm():
    out = io.StringIO()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    stats = serve_forever("127.0.0.1", 0, 0, None, None, out=out)
    timer.join()
    text = out.getvalue()
    assert "simulator listening on http://127.0.0.1:" in text
    assert "violations" in text
    assert stats["total_requests"] == 0


def test_binance_history_selects_recorded_rows_by_time_and_limit(sim):
    url = sim.venue_url("binance") + "/fapi/v1/fundingRate"
    params = {"symbol": "BTCUSDT", "startTime": "1782604800000", "endTime": "1782662400000", "limit": "1000"}
    rows = requests.get(url, params=params, timeout=5).json()
    assert [(row["fundingTime"], row["fundingRate"]) for row in rows] == [
        (1782604800000, "0.00004258"),
        (1782633600013, "0.00001355"),
        (1782662400000, "0.00004430"),
    ]
    assert len(requests.get(url, params={**params, "limit": "2"}, timeout=5).json()) == 2
    assert requests.get(url, params={**params, "symbol": "NOSUCHUSDT"}, timeout=5).json() == []
    refused = requests.get(url, params={**params, "limit": "1001"}, timeout=5)
    assert refused.status_code == 400 and refused.json()["code"] == -1100
