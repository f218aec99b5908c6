"""The ccxt bridge: `build_rows` on hand-written ccxt-shaped dicts, the error mapping, the client
(gate, counts, per-thread instances, URL overrides) against a stubbed ccxt `fetch`, and one cycle of
`ccxt:okx` through the simulator, compared with the native OKX adapter on the same recording."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import ccxt
import pytest

from funding_finder.collector import Collector, CollectorConfig
from funding_finder.errors import (
    BadJson,
    BadPayload,
    CallTimeout,
    ConnectionFailed,
    DeadlineExceeded,
    EmptyPayload,
    ExchangeError,
    HttpClientError,
    HttpServerError,
    RateLimited,
)
from funding_finder.exchanges import ccxt_bridge, get_venue
from funding_finder.exchanges.base import Role
from funding_finder.model import FLAG_INTERVAL_UNKNOWN, FLAG_STALE
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.store import Store

VENUE = "ccxt:okx"
OBSERVED = datetime(2026, 9, 19, 13, 24, 5, tzinfo=UTC)
NEXT_MS = 1789833600000  # 2026-09-19 16:00 UTC, after OBSERVED
PAST_MS = 1789819200000  # 2026-09-19 12:00 UTC, before OBSERVED


def market(market_id: str, base: str, quote: str, settle: str, linear: bool, **extra: Any) -> dict[str, Any]:
    return {
        "id": market_id,
        "base": base,
        "quote": quote,
        "settle": settle,
        "linear": linear,
        "inverse": not linear,
        "swap": True,
        "active": True,
        **extra,
    }


def funding(symbol: str, rate: Any, **extra: Any) -> dict[str, Any]:
    """A ccxt funding-rate structure (the keys ccxt's `safe_funding_rate` fills in)."""
    return {
        "symbol": symbol,
        "markPrice": None,
        "indexPrice": None,
        "fundingRate": rate,
        "fundingTimestamp": NEXT_MS,
        "nextFundingRate": None,
        "interval": "8h",
        **extra,
    }


def build(rates: dict[str, Any], markets: dict[str, Any]):
    return ccxt_bridge.venue("okx").build_rows(
        {ccxt_bridge.RATES: {"rates": rates, "markets": markets}}, OBSERVED
    )


# -- venue(), SPEC and KeyErrors ---------------------------------------------------------------------


def test_spec_is_derived_from_ccxt_describe() -> None:
    module = get_venue(VENUE)
    assert module is ccxt_bridge.venue("okx")  # one module per exchange id
    spec = module.SPEC
    assert (spec.id, spec.name, spec.workers) == (VENUE, "OKX (ccxt)", 1)
    assert spec.hosts == {"api": "https://www.okx.com"}  # `https://{hostname}` imploded
    assert [(e.name, e.role) for e in spec.endpoints] == [("fetchFundingRates", Role.RATES)]
    (limit,) = spec.limits
    assert (limit.capacity, limit.window_s, limit.scope) == (9, 1.0, "ip")  # rateLimit 110 ms
    assert spec.docs_url == "https://www.okx.com/docs-v5/en/"
    assert module.make_client is ccxt_bridge.CcxtClient


def test_a_slow_rate_limit_becomes_one_call_per_window() -> None:
    fake = SimpleNamespace(
        id="slow",
        name="Slow",
        rateLimit=2500,
        urls={"api": {"private": ["x"], "public": "https://api.slow.test/v1"}, "doc": ["https://d.test"]},
        implode_hostname=lambda url: url,
    )
    spec = ccxt_bridge._spec(fake)
    (limit,) = spec.limits
    assert (limit.capacity, limit.window_s) == (1, 2.5)
    assert spec.hosts == {"api": "https://api.slow.test"}
    assert spec.docs_url == "https://d.test"


def test_unknown_exchange_id_is_a_key_error_naming_the_usable_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown ccxt exchange 'nosuchexchange'.*okx"):
        get_venue("ccxt:nosuchexchange")


def test_exchange_without_fetch_funding_rates_is_a_key_error() -> None:
    assert ccxt.kraken().has.get("fetchFundingRates") is not True
    with pytest.raises(KeyError, match="'kraken' has no fetchFundingRates"):
        ccxt_bridge.venue("kraken")


def test_missing_ccxt_is_a_key_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ccxt_bridge, "ccxt", None)
    with pytest.raises(KeyError, match=r"pip install 'funding-finder\[ccxt\]'"):
        get_venue("ccxt:bybit")


# -- build_rows ----------------------------------------------------------------------------------------


def test_linear_row_field_by_field() -> None:
    rate = funding("BTC/USDT:USDT", 0.0001, nextFundingRate=0.00012, markPrice=65000.5, indexPrice=65001.0)
    result = build(
        {"BTC/USDT:USDT": rate}, {"BTC/USDT:USDT": market("BTC-USDT-SWAP", "BTC", "USDT", "USDT", True)}
    )
    assert result.bad_rows == 0
    (row,) = result.rows
    assert row.exchange == VENUE
    assert (row.native_symbol, row.symbol) == ("BTC-USDT-SWAP", "BTC/USDT:USDT")
    assert (row.base, row.quote, row.settle, row.contract_type) == ("BTC", "USDT", "USDT", "linear")
    assert row.funding_rate == 0.0001
    assert row.interval_hours == 8.0
    assert row.next_funding_time == datetime(2026, 9, 19, 16, 0, tzinfo=UTC)
    assert row.predicted_rate == 0.00012
    assert (row.mark_price, row.index_price) == (65000.5, 65001.0)
    assert row.apr == pytest.approx(0.0001 * 8760 / 8)
    assert row.observed_at == OBSERVED
    assert row.flags == ()


def test_inverse_row_and_multiplier_prefix() -> None:
    markets = {
        "BTC/USD:BTC": market("BTC-USD-SWAP", "BTC", "USD", "BTC", False),
        "1000PEPE/USDT:USDT": market("1000PEPEUSDT", "1000PEPE", "USDT", "USDT", True),
    }
    rates = {
        "BTC/USD:BTC": funding("BTC/USD:BTC", "-0.00005", interval="4h"),
        "1000PEPE/USDT:USDT": funding("1000PEPE/USDT:USDT", 0.0003, interval="1h"),
    }
    rows = {row.native_symbol: row for row in build(rates, markets).rows}
    inverse = rows["BTC-USD-SWAP"]
    assert (inverse.symbol, inverse.contract_type, inverse.settle) == ("BTC/USD:BTC", "inverse", "BTC")
    assert (inverse.funding_rate, inverse.interval_hours) == (-0.00005, 4.0)
    pepe = rows["1000PEPEUSDT"]
    assert (pepe.symbol, pepe.base, pepe.multiplier, pepe.interval_hours) == (
        "1000PEPE/USDT:USDT",
        "PEPE",
        1000,
        1.0,
    )


def test_flags_for_unknown_interval_and_past_settlement() -> None:
    markets = {"ETH/USDT:USDT": market("ETH-USDT-SWAP", "ETH", "USDT", "USDT", True)}
    rates = {"ETH/USDT:USDT": funding("ETH/USDT:USDT", 0.0001, interval=None, fundingTimestamp=PAST_MS)}
    (row,) = build(rates, markets).rows
    assert row.interval_hours is None and row.apr is None
    assert row.next_funding_time == datetime(2026, 9, 19, 12, 0, tzinfo=UTC)
    assert row.flags == (FLAG_INTERVAL_UNKNOWN, FLAG_STALE)
    rates["ETH/USDT:USDT"]["fundingTimestamp"] = None
    (row,) = build(rates, markets).rows
    assert row.next_funding_time is None


@pytest.mark.parametrize(
    ("interval", "hours"),
    [
        ("8h", 8.0),
        ("1h", 1.0),
        ("4h", 4.0),
        ("30m", 0.5),
        ("1d", 24.0),
        (None, None),
        ("8", None),
        ("", None),
    ],
)
def test_interval_strings(interval: Any, hours: float | None) -> None:
    assert ccxt_bridge.interval_hours(interval) == hours


def test_rows_without_rate_or_swap_market_are_skipped_and_a_bad_row_costs_one_row() -> None:
    markets = {
        "A/USDT:USDT": market("A-SWAP", "A", "USDT", "USDT", True),
        "B/USDT:USDT": market("B-SWAP", "B", "USDT", "USDT", True),
        "C/USDT:USDT": market("C-SWAP", "C", "USDT", "USDT", True, active=False),
        "D/USDT:USDT-261225": market("D-FUT", "D", "USDT", "USDT", True, swap=False),
        "E/USDT:USDT": market("E-SWAP", "E", "USDT", "USDT", True),
        "F/USDT:USDT": market("F-SWAP", "F", "USDT", "USDT", True, inverse=True),
        "G/USDT:USDT": market("G-SWAP", "G", "USDT", "USDT", True),
    }
    rates = {
        "A/USDT:USDT": funding("A/USDT:USDT", 0.0001),  # kept
        "B/USDT:USDT": funding("B/USDT:USDT", None),  # no rate: skipped
        "C/USDT:USDT": funding("C/USDT:USDT", 0.0001),  # inactive market: skipped
        "D/USDT:USDT-261225": funding("D/USDT:USDT-261225", 0.0001),  # not a swap: skipped
        "Z/USDT:USDT": funding("Z/USDT:USDT", 0.0001),  # no market: skipped
        "E/USDT:USDT": funding("E/USDT:USDT", "abc"),  # malformed rate: one bad row
        "F/USDT:USDT": funding("F/USDT:USDT", 0.0001),  # linear and inverse: one bad row
        "G/USDT:USDT": "not a dict",  # one bad row
    }
    result = build(rates, markets)
    assert [row.native_symbol for row in result.rows] == ["A-SWAP"]
    assert result.bad_rows == 3


@pytest.mark.parametrize("payload", [None, [], {"rates": []}, {"rates": {}, "markets": None}])
def test_a_payload_of_the_wrong_shape_is_bad_payload(payload: Any) -> None:
    with pytest.raises(BadPayload):
        ccxt_bridge.venue("okx").build_rows({ccxt_bridge.RATES: payload}, OBSERVED)


# -- error mapping, URL rewriting, market types --------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "expected"),
    [
        (ccxt.RateLimitExceeded("429"), 429, RateLimited),
        (ccxt.DDoSProtection("418"), 418, RateLimited),
        (ccxt.RequestTimeout("read timed out"), None, CallTimeout),
        (ccxt.NetworkError("reset"), None, ConnectionFailed),
        (ccxt.ExchangeNotAvailable("503"), 503, HttpServerError),
        (ccxt.OnMaintenance("maintenance"), None, HttpServerError),
        (ccxt.ExchangeNotAvailable("404"), 404, HttpClientError),
        (ccxt.BadResponse("garbled"), 200, BadPayload),
        (ccxt.NullResponse("null"), 200, BadPayload),
        (ccxt.BadSymbol("no such market"), None, ExchangeError),
        (ccxt.BadRequest("code 51000"), 200, ExchangeError),
        (ccxt.AuthenticationError("401"), 401, ExchangeError),
        (ccxt.ExchangeError("code 50000"), 200, ExchangeError),
    ],
)
def test_ccxt_errors_map_to_the_project_kinds(exc: Exception, status: int | None, expected: type) -> None:
    error = ccxt_bridge.typed_error(exc, VENUE, "fetchFundingRates", status)
    assert type(error) is expected
    assert (error.venue, error.endpoint) == (VENUE, "fetchFundingRates")
    assert type(exc).__name__ in error.detail


def test_every_api_url_gets_the_override_root_and_keeps_its_path() -> None:
    api = {"public": "https://api.{hostname}/v4", "nested": {"fapi": "https://fapi.x.com/fapi/v1"}, "n": 3}
    assert ccxt_bridge.rewrite_roots(api, "http://127.0.0.1:8900/sim/") == {
        "public": "http://127.0.0.1:8900/sim/v4",
        "nested": {"fapi": "http://127.0.0.1:8900/sim/fapi/v1"},
        "n": 3,
    }
    assert ccxt_bridge.rewrite_roots(["https://{hostname}"], "http://h:1") == ["http://h:1"]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({"types": ["spot", "future", "swap", "option"]}, {"types": ["swap"]}),
        ({"types": ["spot", "linear", "inverse"], "x": 1}, {"types": ["linear", "inverse"], "x": 1}),
        ({"types": ["spot"]}, {"types": ["spot"]}),  # nothing perpetual to keep: left alone
        ({"types": {"spot": True, "linear": True}}, {"types": {"spot": False, "linear": True}}),
        ({"other": 1}, {"other": 1}),
    ],
)
def test_market_types_without_perpetuals_are_not_loaded(option: dict, expected: dict) -> None:
    assert ccxt_bridge.perpetual_types({"fetchMarkets": option}) == expected


# -- the client, against a stubbed ccxt fetch ----------------------------------------------------------


class StubFetch:
    """Stands in for ccxt's HTTP `Exchange.fetch`: answers OKX's two public paths from the recordings,
    or raises / returns what a test sets; records every request's url, instance and timeout."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, float]] = []
        self.raise_: Exception | None = None
        self.status = 429
        self.answer: Any = None
        self.lock = threading.Lock()

    def __call__(self, exchange: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None):
        with self.lock:
            self.calls.append((url, exchange, exchange.timeout))
        if self.raise_ is not None:
            exchange.on_rest_response(self.status, "Error", url, method, {}, "{}", headers, body)
            raise self.raise_
        exchange.on_rest_response(200, "OK", url, method, {}, "{}", headers, body)
        if self.answer is not None:
            return self.answer
        if "/public/instruments" in url:
            return load_json("okx", "instruments-SWAP__nautilus.json")
        if "/public/funding-rate" in url:
            return load_json("okx", "public-funding-rate-instId-ANY.derived.json")
        raise AssertionError(f"unexpected request {url}")


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> StubFetch:
    fetch = StubFetch()
    monkeypatch.setattr(ccxt.Exchange, "fetch", lambda self, *args: fetch(self, *args))
    return fetch


def make_client(**kwargs: Any) -> ccxt_bridge.CcxtClient:
    spec = ccxt_bridge.venue("okx").SPEC
    kwargs.setdefault("base_urls", {"api": "http://proxy.test/okx"})
    return ccxt_bridge.venue("okx").make_client(spec, RateGate(spec.id, spec.limits), **kwargs)


def test_client_fetches_through_the_gate_with_counts_timeout_and_override(stub: StubFetch) -> None:
    client = make_client(timeout_s=3.5)
    endpoint = client.spec.endpoint("fetchFundingRates")
    payload = client.fetch(endpoint)
    urls = [url for url, _, _ in stub.calls]
    assert urls == [
        "http://proxy.test/okx/api/v5/public/instruments?instType=SWAP",
        "http://proxy.test/okx/api/v5/public/funding-rate?instId=ANY",
    ]
    assert {timeout for _, _, timeout in stub.calls} == {3500.0}
    assert (client.requests, len(client.latencies_s), client.gate.stats.acquired) == (2, 2, 2)
    assert not client.answers
    exchange = client.exchange()
    assert exchange.enableRateLimit is False
    assert exchange.options["fetchMarkets"]["types"] == ["swap"]
    json.dumps(payload)  # plain data
    assert set(payload["markets"]) == {"BTC/USDT:USDT"}
    assert payload["markets"]["BTC/USDT:USDT"]["id"] == "BTC-USDT-SWAP"
    assert "info" not in payload["rates"]["BTC/USDT:USDT"]
    client.fetch(endpoint)  # markets already loaded: one request
    assert client.requests == 3


def test_one_instance_per_thread_sharing_the_loaded_markets(stub: StubFetch) -> None:
    client = make_client()
    endpoint = client.spec.endpoint("fetchFundingRates")
    main = client.exchange()
    assert client.exchange() is main
    client.fetch(endpoint)
    seen: list[Any] = []

    def work() -> None:
        seen.append(client.exchange())
        client.fetch(endpoint)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(main), *map(id, seen)}) == 3
    # The other threads borrowed the markets: each made only its funding-rate request, on its own instance.
    assert client.requests == 4
    assert [url.rsplit("/", 1)[1] for url, _, _ in stub.calls[2:]] == ["funding-rate?instId=ANY"] * 2
    assert {id(exchange) for _, exchange, _ in stub.calls[2:]} == set(map(id, seen))


def test_a_rate_limit_error_pauses_the_gate_and_is_counted(stub: StubFetch) -> None:
    client = make_client(retries=0)
    stub.raise_ = ccxt.RateLimitExceeded("okx 429 Too Many Requests")
    with pytest.raises(RateLimited):
        client.fetch(client.spec.endpoint("fetchFundingRates"))
    assert client.gate.paused_until > client.clock()
    assert client.answers == {"rate_limited": 1}
    assert (client.requests, len(client.latencies_s)) == (1, 1)


def test_retryable_errors_are_retried_by_the_venue_client(stub: StubFetch) -> None:
    client = make_client(retries=2, backoff_s=0.0)
    endpoint = client.spec.endpoint("fetchFundingRates")
    stub.raise_, stub.status = ccxt.ExchangeNotAvailable("okx GET ... 503"), 503
    with pytest.raises(HttpServerError):
        client.fetch(endpoint)
    stub.raise_, stub.status = ccxt.ExchangeNotAvailable("okx GET ... 404"), 404  # ccxt's 404 mapping
    with pytest.raises(HttpClientError):
        client.fetch(endpoint)
    assert client.answers == {"http_5xx": 3, "http_4xx": 1}
    assert client.requests == 4


def test_a_non_json_body_is_bad_json_and_no_rates_is_empty(stub: StubFetch) -> None:
    client = make_client(retries=0)
    endpoint = client.spec.endpoint("fetchFundingRates")
    stub.answer = "<html>502 Bad Gateway</html>"
    with pytest.raises(BadJson):
        client.fetch(endpoint)
    stub.answer = {"code": "0", "data": [], "msg": ""}
    with pytest.raises(EmptyPayload):
        client.fetch(endpoint)


def test_a_passed_deadline_sends_nothing(stub: StubFetch) -> None:
    client = make_client(retries=0)
    with pytest.raises(DeadlineExceeded):
        client.fetch(client.spec.endpoint("fetchFundingRates"), deadline=client.clock() - 1)
    assert client.requests == 0 and not stub.calls


# -- end to end through the simulator ------------------------------------------------------------------


def test_a_cycle_through_the_simulator_matches_the_native_okx_adapter(tmp_path) -> None:
    """ccxt's okx `load_markets` (swap only: `instruments?instType=SWAP`) and `fetch_funding_rates`
    (`funding-rate?instId=ANY`) are both recorded. ccxt keeps only rows whose market it loaded, so the
    native adapter's `unlisted` rows (missing from the recorded instrument list) have no ccxt twin."""
    store = Store(str(tmp_path / "funding.db"))
    with Simulator(latency_ms=0) as sim:
        url = sim.venue_url("okx")
        collector = Collector(
            store, ["okx", VENUE], CollectorConfig(base_urls={"okx": url, VENUE: url}, retries=0)
        )
        first = collector.run_cycle()
        second = collector.run_cycle()  # a new worker thread: its instance borrows the markets
        stats = sim.stats()
    runs = {run.exchange: run for run in first.runs}
    assert first.status == "complete", runs
    assert (runs[VENUE].status, runs[VENUE].requests, runs[VENUE].failures) == ("ok", 2, {})
    assert {run.exchange: run.requests for run in second.runs}[VENUE] == 1
    assert stats["total_violations"] == 0
    assert stats["venues"]["okx"]["rejected"] == 0

    rows = store.latest_rates(["okx", VENUE])
    store.close()
    native = {r.native_symbol: r for r in rows if r.exchange == "okx" and "unlisted" not in r.flags}
    bridged = {r.native_symbol: r for r in rows if r.exchange == VENUE}
    assert set(bridged) == set(native) == {"BTC-USDT-SWAP"}
    for key, row in bridged.items():
        twin = native[key]
        assert (row.funding_rate, row.next_funding_time, row.symbol) == (
            twin.funding_rate,
            twin.next_funding_time,
            twin.symbol,
        )
        assert (row.interval_hours, row.predicted_rate, row.contract_type, row.flags) == (
            twin.interval_hours,
            twin.predicted_rate,
            twin.contract_type,
            twin.flags,
        )
