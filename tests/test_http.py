import json
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest

from fakes import FakeClock, ScriptedServer
from funding_finder import __version__
from funding_finder.errors import (
    BadJson,
    Banned,
    CallTimeout,
    ConnectionFailed,
    ExchangeError,
    HttpClientError,
    HttpServerError,
    RateLimited,
)
from funding_finder.exchanges import okx
from funding_finder.exchanges.base import Endpoint, VenueSpec
from funding_finder.http import MAX_PAUSE_S, VenueClient
from funding_finder.ratelimit import Limit, RateGate

JSON = {"Content-Type": "application/json"}
ENDPOINT = Endpoint("things", "/api/things")


def spec(**changes) -> VenueSpec:
    fields = dict(
        id="testvenue",
        name="Test",
        hosts={"api": "https://unused.invalid"},
        endpoints=(ENDPOINT,),
        limits=(Limit("ip", 1000, 1.0),),
        docs_url="",
    )
    fields.update(changes)
    return VenueSpec(**fields)


def client(server_url: str, venue: VenueSpec | None = None, retries: int = 0, timeout_s: float = 2.0):
    venue = venue or spec()
    clock = FakeClock()
    gate = RateGate(venue.id, venue.limits, clock=clock, sleep=clock.sleep)
    made = VenueClient(
        venue,
        gate,
        base_urls={"api": server_url + "/prefix"},
        retries=retries,
        timeout_s=timeout_s,
        backoff_s=0.0,
        sleep=clock.sleep,
    )
    return made


def test_success_decodes_json_and_sends_user_agent_under_the_prefix():
    with ScriptedServer([(200, JSON, b'[{"a": 1}]', 0)]) as server:
        made = client(server.url)
        assert made.fetch(ENDPOINT) == [{"a": 1}]
    path, headers = server.seen[0]
    assert path == "/prefix/api/things"
    assert headers["User-Agent"] == f"funding-finder/{__version__}"
    assert made.requests == 1


def test_429_with_retry_after_pauses_the_whole_gate():
    with ScriptedServer(
        [(429, {"Retry-After": "5", **JSON}, b'{"code":-1003,"msg":"Too many requests"}', 0)]
    ) as s:
        made = client(s.url)
        with pytest.raises(RateLimited) as caught:
            made.fetch(ENDPOINT)
    assert caught.value.retry_after_s == 5.0
    assert made.gate.paused_until - made.gate.clock() == pytest.approx(5.0)
    assert made.answers == {"rate_limited": 1}
    assert "testvenue things" in str(caught.value)


def test_418_ban_pauses_until_the_time_named_in_the_body():
    body = b'{"code":-1003,"msg":"Way too much request weight used; IP banned until 4102444800000."}'
    with ScriptedServer([(418, JSON, body, 0)]) as server:
        made = client(server.url)
        with pytest.raises(Banned) as caught:
            made.fetch(ENDPOINT)
    assert caught.value.until.year == 2100
    assert made.gate.paused_until > made.gate.clock() + 100  # capped pause, far in the future


@pytest.mark.parametrize(
    ("status", "headers", "body", "error"),
    [
        (502, {"Content-Type": "text/html"}, b"<html><title>502 Bad Gateway</title></html>", HttpServerError),
        (200, {"Content-Type": "text/html"}, b"<html><body>maintenance</body></html>", BadJson),
        (200, JSON, b'{"code":"0","data":[{"instId":', BadJson),
        (400, JSON, b'{"code":-1121,"msg":"Invalid symbol."}', HttpClientError),
    ],
)
def test_bad_answers_become_typed_errors_naming_venue_and_endpoint(status, headers, body, error):
    with ScriptedServer([(status, headers, body, 0)]) as server, pytest.raises(error) as caught:
        client(server.url).fetch(ENDPOINT)
    assert caught.value.venue == "testvenue" and caught.value.endpoint == "things"


def test_5xx_is_retried_and_4xx_is_not():
    with ScriptedServer([(503, JSON, b"{}", 0), (200, JSON, b"[1]", 0)]) as server:
        made = client(server.url, retries=2)
        assert made.fetch(ENDPOINT) == [1]
        assert made.requests == 2 and made.answers == {"http_5xx": 1}
    with ScriptedServer([(400, JSON, b"{}", 0), (200, JSON, b"[1]", 0)]) as server:
        made = client(server.url, retries=2)
        with pytest.raises(HttpClientError):
            made.fetch(ENDPOINT)
        assert made.requests == 1


def test_slow_answer_is_a_timeout():
    with ScriptedServer([(200, JSON, b"[]", 1.5)]) as server, pytest.raises(CallTimeout):
        client(server.url, timeout_s=0.2).fetch(ENDPOINT)


def test_dead_port_is_a_connection_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionFailed):
        client(f"http://127.0.0.1:{port}").fetch(ENDPOINT)


def test_error_envelope_inside_http_200_is_an_exchange_error():
    body = json.dumps({"code": "51000", "data": [], "msg": "Parameter instId error"}).encode()
    endpoint = okx.SPEC.endpoints[0]
    with ScriptedServer([(200, JSON, body, 0)]) as server, pytest.raises(ExchangeError) as caught:
        client(server.url, venue=okx.SPEC).fetch(endpoint)
    assert "51000" in str(caught.value)


def test_usage_header_resyncs_the_gate():
    venue = spec(
        limits=(Limit("REQUEST_WEIGHT", 2400, 60.0),),
        usage_headers={"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"},
    )
    with ScriptedServer([(200, {"X-MBX-USED-WEIGHT-1M": "1234", **JSON}, b"[]", 0)]) as server:
        made = client(server.url, venue=venue)
        made.fetch(ENDPOINT)
    assert made.gate.used("REQUEST_WEIGHT") == 1234


def test_a_usage_header_resyncs_only_the_limit_that_charges_the_call():
    other_host = Endpoint("dapi-things", "/dapi/things", host="dapi")
    venue = spec(
        hosts={"api": "https://unused.invalid", "dapi": "https://unused.invalid"},
        endpoints=(ENDPOINT, other_host),
        limits=(
            Limit("REQUEST_WEIGHT", 2400, 60.0, costs={"dapi-things": 0}),
            Limit("DAPI_WEIGHT", 2400, 60.0, costs={"things": 0}),
        ),
        usage_headers={"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"},
    )
    with ScriptedServer([(200, {"X-MBX-USED-WEIGHT-1M": "777", **JSON}, b"[]", 0)]) as server:
        made = client(server.url, venue=venue)
        made.base_urls["dapi"] = made.base_urls["api"]
        made.fetch(other_host)  # dapi's count of its own pool: not fapi's
    assert made.gate.used("REQUEST_WEIGHT") == 0


def test_a_retry_after_in_milliseconds_is_read_in_the_venues_unit():
    with ScriptedServer(
        [(429, {"Retry-After": "1500", **JSON}, b'{"errors":[{"msg":"Too many requests"}]}', 0)]
    ) as s:
        made = client(s.url, venue=spec(retry_after_unit_s=0.001))
        with pytest.raises(RateLimited) as caught:
            made.fetch(ENDPOINT)
    assert caught.value.retry_after_s == 1.5
    assert made.gate.paused_until - made.gate.clock() == pytest.approx(1.5)


def test_a_ban_inside_an_http_200_pauses_the_gate():
    def check(venue, endpoint, payload):
        if payload.get("code") == 30017:
            raise Banned(venue, endpoint, "code 30017: IP banned")

    with ScriptedServer([(200, JSON, b'{"code":30017,"message":"banned"}', 0)]) as server:
        made = client(server.url, venue=spec(check_envelope=check))
        with pytest.raises(Banned):
            made.fetch(ENDPOINT)
    assert made.gate.paused_until - made.gate.clock() == pytest.approx(120.0)  # no end given: the cap


def two_venues_on_one_clock(server_url: str):
    """Venues A and B, each with its own gate, on one fake clock."""
    clock = FakeClock()
    made = []
    for venue_id in ("venue-a", "venue-b"):
        venue = spec(id=venue_id)
        gate = RateGate(venue.id, venue.limits, clock=clock, sleep=clock.sleep)
        made.append(
            VenueClient(
                venue,
                gate,
                base_urls={"api": server_url},
                retries=0,
                backoff_s=0.0,
                clock=clock,
                sleep=clock.sleep,
            )
        )
    return clock, made[0], made[1]


def test_a_429_with_retry_after_5_holds_every_thread_of_that_venue_for_5_s_and_no_other_venue():
    answer = (429, {"Retry-After": "5", **JSON}, b'{"msg":"Too many requests"}', 0)
    with ScriptedServer([answer]) as server:
        clock, venue_a, venue_b = two_venues_on_one_clock(server.url)
        with pytest.raises(RateLimited):
            venue_a.fetch(ENDPOINT)
    hit_at = clock()
    assert venue_b.gate.acquire("things") == hit_at  # the other venue is not held
    sent: list[float] = []
    threads = [threading.Thread(target=lambda: sent.append(venue_a.gate.acquire("things"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(sent) == 4 and min(sent) >= hit_at + 5.0
    assert venue_a.gate.stats.pauses == 1 and venue_b.gate.stats.pauses == 0


def test_a_429_is_retried_after_the_pause_without_a_backoff_of_its_own():
    answers = [(429, {"Retry-After": "5", **JSON}, b"{}", 0), (200, JSON, b"[1]", 0)]
    with ScriptedServer(answers) as server:
        made = client(server.url, retries=1)
        made.backoff_s = 10.0  # a backoff would show as a 5 s to 15 s sleep
        started = made.gate.clock()
        assert made.fetch(ENDPOINT) == [1]
    assert made.requests == 2 and made.answers == {"rate_limited": 1}
    assert made.gate.clock() - started == pytest.approx(5.0)  # the gate's pause, nothing more


def test_a_418_ban_pauses_until_the_time_it_names():
    until_ms = int((datetime.now(UTC) + timedelta(seconds=30)).timestamp() * 1000)
    body = f'{{"code":-1003,"msg":"Way too much request weight used; IP banned until {until_ms}."}}'.encode()
    with ScriptedServer([(418, JSON, body, 0)]) as server:
        made = client(server.url)
        with pytest.raises(Banned):
            made.fetch(ENDPOINT)
    assert made.gate.paused_until - made.gate.clock() == pytest.approx(30.0, abs=1.0)


def test_the_pause_cap_follows_the_longest_window_of_the_limits_that_charge_the_call():
    pool = Limit("fundingInfo+fundingRate", 500, 300.0, costs={"things": 1}, default_cost=0)
    venue = spec(limits=(Limit("ip", 1000, 1.0), pool), endpoints=(ENDPOINT, Endpoint("other", "/api/other")))
    for retry_after, endpoint, expected in (("300", ENDPOINT, 300.0), ("100000", ENDPOINT, 300.0)):
        with ScriptedServer([(429, {"Retry-After": retry_after, **JSON}, b"{}", 0)]) as server:
            made = client(server.url, venue=venue)
            with pytest.raises(RateLimited):
                made.fetch(endpoint)
        assert made.gate.paused_until - made.gate.clock() == pytest.approx(expected)
    made = client("http://127.0.0.1:9", venue=venue)
    assert made.pause_cap_s("things") == 300.0 and made.pause_cap_s("other") == MAX_PAUSE_S


def test_a_usage_header_only_ever_adds_and_the_next_call_waits_for_what_it_added():
    venue = spec(
        limits=(Limit("REQUEST_WEIGHT", 100, 60.0),), usage_headers={"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"}
    )
    answers = [
        (200, {"X-MBX-USED-WEIGHT-1M": "98", **JSON}, b"[]", 0),
        (200, {"X-MBX-USED-WEIGHT-1M": "3", **JSON}, b"[]", 0),
    ]
    with ScriptedServer(answers) as server:
        made = client(server.url, venue=venue)
        made.fetch(ENDPOINT)
        assert made.gate.used("REQUEST_WEIGHT") == 98  # another process on the IP used 97
        started = made.gate.clock()
        made.fetch(ENDPOINT)  # 98 of the 98 usable: it waits for the window
        assert made.gate.clock() >= started + 60.0
    assert made.gate.used("REQUEST_WEIGHT") >= 1  # a lower count never unbooks what was booked


def test_retries_back_off_with_jitter_for_transport_errors_and_stop_at_the_deadline():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    made = client(f"http://127.0.0.1:{port}", retries=2)
    made.backoff_s, made.clock = 1.0, made.gate.clock
    with pytest.raises(ConnectionFailed):
        made.fetch(ENDPOINT)
    assert made.requests == 3 and made.answers == {"connection": 3}
    first, second = made.sleep.__self__.slept[-2:]
    assert 0.5 <= first <= 1.5 and 1.0 <= second <= 3.0  # base × 2^attempt × [0.5, 1.5]
    # a backoff (at least 0.5 s) that would end past the deadline is not waited: one try only
    made = client(f"http://127.0.0.1:{port}", retries=2)
    made.backoff_s, made.clock = 1.0, made.gate.clock
    with pytest.raises(ConnectionFailed):
        made.fetch(ENDPOINT, deadline=made.clock() + 0.4)
    assert made.requests == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 451])
def test_a_4xx_is_never_retried(status):
    with ScriptedServer([(status, JSON, b'{"msg":"no"}', 0), (200, JSON, b"[1]", 0)]) as server:
        made = client(server.url, retries=3)
        with pytest.raises(HttpClientError):
            made.fetch(ENDPOINT)
    assert made.requests == 1


def test_an_error_envelope_and_a_body_that_is_not_json_are_not_retried():
    body = json.dumps({"code": "51000", "data": [], "msg": "Parameter instId error"}).encode()
    with ScriptedServer([(200, JSON, body, 0), (200, JSON, b"[]", 0)]) as server:
        made = client(server.url, venue=okx.SPEC, retries=3)
        with pytest.raises(ExchangeError):
            made.fetch(okx.SPEC.endpoints[0])
    assert made.requests == 1
    with ScriptedServer(
        [(200, {"Content-Type": "text/html"}, b"<html>", 0), (200, JSON, b"[]", 0)]
    ) as server:
        made = client(server.url, retries=3)
        with pytest.raises(BadJson):
            made.fetch(ENDPOINT)
    assert made.requests == 1


def test_every_answer_feeds_the_venues_in_flight_limit():
    answers = [(200, JSON, b"[]", 0)] * 3 + [(429, {"Retry-After": "1", **JSON}, b"{}", 0)]
    with ScriptedServer(answers) as server:
        made = client(server.url, venue=spec(workers=8, limits=(Limit("ip", 100, 1.0),)))
        assert made.concurrency.pool_size == 8 and made.concurrency.rate_per_s == 98.0
        made.fetch(ENDPOINT)  # a loopback round trip of a few ms: 90/s × that × 1.25 rounds up to 1
        assert made.concurrency.latency_s < 0.05
        after_first = made.concurrency.limit
        made.fetch(ENDPOINT)
        made.fetch(ENDPOINT)
        grown = made.concurrency.limit
        with pytest.raises(RateLimited):
            made.fetch(ENDPOINT)
    assert grown > after_first
    assert made.concurrency.limit == pytest.approx(max(1.0, grown / 2))
