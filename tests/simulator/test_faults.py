"""Each injected fault is on the wire what a venue or its proxy sends; rates and mixes are seeded."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from funding_finder.recordings import load_bytes
from funding_finder.simulator import Simulator
from funding_finder.simulator.faults import (
    ERROR_REPLIES,
    FAULT_KINDS,
    MIXED,
    REQUIRED_FIELDS,
    Fault,
    checked_faults,
    draw,
    parse_fault,
    renamed,
)
from funding_finder.simulator.limits import LIMITS
from funding_finder.simulator.routes import ROUTES, VENUES, RouteKey

GATE = RouteKey("gate", "GET", "/api/v4/futures/usdt/contracts")
GATE_BYTES = load_bytes("gate", ROUTES[GATE])
OKX = RouteKey("okx", "GET", "/api/v5/public/funding-rate", (("instId", "ANY"),))
OKX_BYTES = load_bytes("okx", ROUTES[OKX])
BITFINEX = RouteKey("bitfinex", "GET", "/v2/status/deriv", (("keys", "ALL"),))


@pytest.fixture
def sim():
    with Simulator(latency_ms=0, hang_s=1.0, drip_s=0.5, ban_s=90) as simulator:
        yield simulator


def call(sim: Simulator, key: RouteKey, timeout_s: float = 10) -> requests.Response:
    return requests.get(sim.venue_url(key.venue) + key.path, params=dict(key.match), timeout=timeout_s)


# -- the fault text --------------------------------------------------------------------------------


def test_fault_text_is_kinds_and_an_optional_rate():
    assert parse_fault("html") == Fault(("html",), 1.0)
    assert parse_fault("Reset@0.25") == Fault(("reset",), 0.25)
    assert parse_fault("html+storm@0.1") == Fault(("html", "storm"), 0.1)
    assert parse_fault("mixed@0.1") == Fault(MIXED, 0.1)
    assert parse_fault("mixed@0.1").text == "mixed@0.1"
    assert parse_fault("html+html").text == "html"
    for bad in ("smoke", "html@0", "html@1.5", "html@x", "html@", "html+", "@0.1"):
        with pytest.raises(ValueError):
            parse_fault(bad)


def test_all_sets_every_venue_and_a_named_venue_overrides_it():
    faults = checked_faults({"okx": None, "all": "html@0.5"})
    assert set(faults) == set(VENUES)
    assert faults["okx"] is None and faults["gate"] == Fault(("html",), 0.5)
    with pytest.raises(ValueError):
        checked_faults({"kraken": "html"})


def test_faults_over_http_take_the_text_and_refuse_anything_else(sim):
    set_mixed = requests.post(sim.url + "/_sim/faults", json={"all": "html+reset@0.5"}, timeout=10)
    assert set_mixed.json()["faults"] == dict.fromkeys(VENUES, "html+reset@0.5")
    for bad in ({"gate": 5}, {"gate": "html@2"}, {"nowhere": "html"}, ["gate"]):
        assert requests.post(sim.url + "/_sim/faults", json=bad, timeout=10).status_code == 400
    requests.post(sim.url + "/_sim/faults", json={"all": None}, timeout=10)
    assert sim.faults == {}


def test_every_venue_has_an_error_reply_and_a_required_field():
    assert set(ERROR_REPLIES) == set(VENUES) == set(REQUIRED_FIELDS)


def test_renamed_swaps_camel_and_snake_case():
    assert renamed("fundingRate") == "funding_rate"
    assert renamed("funding_rate") == "fundingRate"
    assert renamed("rate") == "rate_v2"


# -- seeded rates ----------------------------------------------------------------------------------


def test_a_rate_faults_about_that_fraction_and_the_same_requests_for_the_same_seed():
    fault = Fault(("html", "reset"), 0.1)
    first = [draw(fault, 7, "okx GET /x {}", n) for n in range(5000)]
    again = [draw(fault, 7, "okx GET /x {}", n) for n in range(5000)]
    other = [draw(fault, 8, "okx GET /x {}", n) for n in range(5000)]
    assert first == again and first != other
    hits = [kind for kind in first if kind is not None]
    assert 400 < len(hits) < 600  # 10 % of 5000, binomial sd 21
    assert 150 < hits.count("html") < 350 and len(hits) - hits.count("html") > 150
    assert all(draw(Fault(("html",)), 1, "k", n) == "html" for n in range(100))
    assert draw(None, 1, "k", 0) is None


def test_the_simulator_faults_the_same_requests_whatever_their_order():
    def faulted(order: list[str]) -> dict[str, list[int]]:
        with Simulator(latency_ms=0, faults={"okx": "http500@0.3"}, seed=11) as sim:
            seen: dict[str, list[int]] = {}
            for inst in order:
                response = requests.get(sim.venue_url("okx") + OKX.path, params={"instId": inst}, timeout=10)
                seen.setdefault(inst, []).append(response.status_code)
            stats = sim.stats()["venues"]["okx"]
        assert stats["faults"] == stats["faults_by_kind"]["http500"]
        return seen

    order = ["ANY", "BTC-USDT-SWAP"] * 20
    assert faulted(order) == faulted(sorted(order))
    statuses = faulted(order)["ANY"]
    assert 500 in statuses and 200 in statuses


# -- status faults ---------------------------------------------------------------------------------


def test_http503_is_an_html_page(sim):
    sim.set_fault("gate", "http503")
    response = call(sim, GATE)
    assert response.status_code == 503 and response.headers["Content-Type"].startswith("text/html")
    assert "503 Service Temporarily Unavailable" in response.text


@pytest.mark.parametrize("venue", ["okx", "gate", "binance", "bybit", "lighter"])
def test_storm_is_the_venues_own_over_limit_answer_with_retry_after(venue):
    limits = LIMITS[venue]
    key = next(k for k in ROUTES if k.venue == venue and k.method == "GET")
    with Simulator(latency_ms=0, faults={venue: "storm"}, storm_retry_after_s=3) as sim:
        responses = [call(sim, key) for _ in range(3)]
        assert sim.stats()["venues"][venue]["faults_by_kind"] == {"storm": 3}
    for response in responses:
        assert response.status_code == limits.over_limit.status  # 429; Bybit 403, Lighter 200
        assert response.content == limits.over_limit.body(limits.pools[0])
        assert response.headers["Retry-After"] == "3"


def test_ban_is_a_418_whose_body_names_the_ban_end(sim):
    sim.set_fault("gate", "ban")
    before_ms = time.time() * 1000
    response = call(sim, GATE)
    assert response.status_code == 418
    body = response.json()
    assert body["code"] == -1003
    until_ms = int(body["msg"].split("banned until ")[1].split(".")[0])
    assert before_ms + 89_000 <= until_ms <= time.time() * 1000 + 90_000  # ban_s = 90


@pytest.mark.parametrize(
    ("venue", "status", "check"),
    [
        ("okx", 200, lambda body: body["code"] == "51000" and body["msg"] == "Parameter instId error"),
        ("mexc", 200, lambda body: body["success"] is False and body["code"] == 1001),
        ("bitget", 200, lambda body: body["code"] == "400172" and body["data"] is None),
        ("htx", 200, lambda body: body["status"] == "error" and body["err_code"] == 1010),
        ("lighter", 200, lambda body: body["code"] == 23000),
        ("bitfinex", 200, lambda body: body[0] == "error"),
        ("binance", 400, lambda body: body["code"] == -1121),
        ("gate", 400, lambda body: body["label"] == "INVALID_PARAM_VALUE"),
    ],
)
def test_envelope_is_the_venues_own_error_body(venue, status, check):
    key = next(k for k in ROUTES if k.venue == venue and k.method == "GET")
    with Simulator(latency_ms=0, faults={venue: "envelope"}) as sim:
        response = call(sim, key)
    assert response.status_code == status
    assert check(response.json())


# -- body faults -----------------------------------------------------------------------------------


def test_missing_removes_the_rate_field_of_the_first_row_only(sim):
    sim.set_fault("okx", "missing")
    rows = call(sim, OKX).json()["data"]
    recorded = json.loads(OKX_BYTES)["data"]
    assert "fundingRate" not in rows[0] and "fundingRate" in recorded[0]
    assert {k: v for k, v in recorded[0].items() if k != "fundingRate"} == rows[0]
    assert rows[1:] == recorded[1:]


def test_renamed_renames_the_rate_field_of_the_first_row(sim):
    sim.set_fault("okx", "renamed")
    rows = call(sim, OKX).json()["data"]
    recorded = json.loads(OKX_BYTES)["data"]
    assert rows[0]["funding_rate"] == recorded[0]["fundingRate"] and "fundingRate" not in rows[0]
    assert rows[1:] == recorded[1:]


def test_missing_cuts_a_positional_row_before_its_rate(sim):
    sim.set_fault("bitfinex", "missing")
    rows = call(sim, BITFINEX).json()
    recorded = json.loads(load_bytes("bitfinex", ROUTES[BITFINEX]))
    assert rows[0] == recorded[0][:12] and rows[1:] == recorded[1:]


# -- transport faults ------------------------------------------------------------------------------


def _raw_get(sim: Simulator, key: RouteKey) -> tuple[bytes, BaseException | None]:
    """The bytes a plain socket receives for `key` until the server closes or resets."""
    sock = socket.create_connection((sim.host, sim.port), timeout=5)
    sock.sendall(f"GET /{key.venue}{key.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    received, error = b"", None
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError as exc:
        error = exc
    sock.close()
    return received, error


def test_reset_sends_half_the_body_then_a_tcp_reset(sim):
    sim.set_fault("gate", "reset")
    received, error = _raw_get(sim, GATE)
    head, _, body = received.partition(b"\r\n\r\n")
    assert isinstance(error, ConnectionResetError)
    assert f"Content-Length: {len(GATE_BYTES)}".encode() in head
    assert GATE_BYTES.startswith(body) and len(body) < len(GATE_BYTES)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="reset"):
        call(sim, GATE)


def test_stall_sends_half_the_body_then_waits_past_a_read_timeout(sim):
    sim.set_fault("gate", "stall")  # hang_s 1.0
    with pytest.raises(requests.ConnectionError) as caught:
        call(sim, GATE, timeout_s=0.3)
    assert "Read timed out" in str(caught.value)
    assert call(sim, GATE, timeout_s=5).content == GATE_BYTES  # a patient client gets it all


def test_drip_delivers_the_whole_body_in_pieces_over_drip_s(sim):
    sim.set_fault("gate", "drip")  # drip_s 0.5
    started = time.monotonic()
    response = call(sim, GATE, timeout_s=0.3)  # every piece comes well within the read timeout
    assert response.content == GATE_BYTES
    assert time.monotonic() - started >= 0.45


def test_every_kind_is_accepted_at_runtime_and_counted(sim):
    for kind in FAULT_KINDS:
        if kind in ("hang", "stall", "drop", "reset"):
            continue
        sim.set_fault("okx", kind)
        assert call(sim, OKX, timeout_s=5).status_code in (200, 400, 418, 429, 500, 502, 503)
    counted = sim.stats()["venues"]["okx"]["faults_by_kind"]
    assert counted == dict.fromkeys(set(FAULT_KINDS) - {"hang", "stall", "drop", "reset"}, 1)


def test_arrival_times_span_the_venues_requests():
    clock_values = iter([10.0, 12.5, 13.0])
    with Simulator(latency_ms=0, clock=lambda: next(clock_values)) as sim:
        for _ in range(3):
            call(sim, GATE)
        stats = sim.stats()["venues"]["gate"]
    assert (stats["first_arrival_s"], stats["last_arrival_s"]) == (10.0, 13.0)
