import json
import socket

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
from funding_finder.http import VenueClient
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
