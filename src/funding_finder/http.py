"""The one request path: gate, HTTP call, status and envelope checks, typed errors.

One `requests.Session` per venue, its connection pool at least as large as the venue's workers, a
timeout on every call and `User-Agent: funding-finder/<version>`. Transport exceptions are translated
here and nowhere else into the typed errors of `errors.py`; a 429 or a ban pauses the venue's whole
gate; retries happen only for transport errors, 5xx and 429, with jittered backoff, inside the deadline.
Every answer also feeds the venue's adaptive in-flight limit (`concurrency.InFlightLimit`), which its
fan-outs read, so a venue has about as many calls running as its rate limit can use.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from funding_finder import __version__
from funding_finder.concurrency import InFlightLimit, allowed_rate_per_s
from funding_finder.errors import (
    RETRYABLE_KINDS,
    BadJson,
    Banned,
    CallTimeout,
    ConnectionFailed,
    DeadlineExceeded,
    FetchError,
    HttpClientError,
    HttpServerError,
    RateLimited,
)
from funding_finder.exchanges.base import Endpoint, VenueSpec
from funding_finder.ratelimit import RateGate

log = logging.getLogger("funding_finder.http")

USER_AGENT = f"funding-finder/{__version__}"
MAX_PAUSE_S = 120.0
"""Cap on a venue-requested pause (Retry-After, ban end), so a bad header cannot stall us for hours;
a call charged by a limit with a longer window is capped at that window instead (Binance's 5-minute
pool: a Retry-After of 300 s is the pool's own turn, and retrying after 120 s would only meet another
429), which is still a bound since every window is declared."""
DEFAULT_RATE_LIMIT_PAUSE_S = 2.0
"""Pause after a 429 that carries no Retry-After."""
_BAN_UNTIL_MS = re.compile(r"banned until (\d{12,})")


def make_session(pool_size: int) -> requests.Session:
    """A Session whose pool holds `pool_size` connections per host and which never retries by itself."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class VenueClient:
    """Calls one venue's endpoints under its gate; `fetch` returns the decoded, checked payload.

    `base_urls` replaces host roots (the simulator, a proxy); `sleep` and `clock` are injectable.
    Counters: `requests` sent, `answers` by failure kind (every failed attempt, retried or not),
    `latencies_s` the round trip of every answered request (gate waits excluded). `concurrency` is the
    venue's adaptive in-flight limit, at most the Session's pool of `pool_size` connections.
    """

    def __init__(
        self,
        spec: VenueSpec,
        gate: RateGate,
        *,
        base_urls: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        pool_size: int | None = None,
        paced_endpoints: Sequence[str] | None = None,
    ) -> None:
        """`pool_size`: the Session's connections and the most calls in flight (default `spec.workers`,
        a cycle's); `paced_endpoints`: the endpoints whose sustained rate sizes the in-flight limit
        (default the cycle's). A backfill gives its history endpoint and its own workers."""
        pool_size = pool_size or spec.workers
        self.spec = spec
        self.gate = gate
        self.base_urls = {**spec.hosts, **(base_urls or {})}
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.session = session or make_session(pool_size)
        self.clock = clock
        self.sleep = sleep
        self.requests = 0
        self.answers: Counter[str] = Counter()
        self.latencies_s: list[float] = []
        self.concurrency = InFlightLimit(
            allowed_rate_per_s(
                spec.limits, paced_endpoints or [endpoint.name for endpoint in spec.endpoints], gate.margin
            ),
            pool_size,
            clock=clock,
        )
        self._lock = threading.Lock()

    def url_of(self, endpoint: Endpoint) -> str:
        return self.base_urls[endpoint.host].rstrip("/") + endpoint.path

    def fetch(self, endpoint: Endpoint, deadline: float | None = None) -> Any:
        """The endpoint's payload, retried for transient failures while `deadline` (a clock value) allows."""
        attempt = 0
        while True:
            try:
                return self._fetch_once(endpoint, deadline)
            except FetchError as exc:
                with self._lock:
                    self.answers[exc.kind] += 1
                log.warning("%s", exc)
                if exc.kind not in RETRYABLE_KINDS or attempt >= self.retries:
                    raise
                pause = self._backoff(attempt)
                if deadline is not None and self.clock() + pause >= deadline:
                    raise
                attempt += 1
                if exc.kind != "rate_limited":  # a 429 already paused the gate for every thread
                    self.sleep(pause)

    def _backoff(self, attempt: int) -> float:
        return self.backoff_s * (2**attempt) * random.uniform(0.5, 1.5)

    def _fetch_once(self, endpoint: Endpoint, deadline: float | None) -> Any:
        name = endpoint.name
        asked = sent_at = self.gate.clock()
        latency_s: float | None = None
        rate_limited = succeeded = False
        try:
            with self.gate.call(name, endpoint.instrument, deadline) as sent_at:
                sent = time.perf_counter()
                response = self._send(endpoint, deadline)
                latency_s = time.perf_counter() - sent
            self._read_usage(endpoint, response)
            self._check_status(name, response)
            payload = self._decode(name, response)
            self._check_envelope(name, payload)
            succeeded = True
            return payload
        except RateLimited:
            rate_limited = True
            raise
        finally:
            self.concurrency.observe(
                latency_s, waited_s=sent_at - asked, rate_limited=rate_limited, succeeded=succeeded
            )

    def _check_envelope(self, name: str, payload: Any) -> None:
        try:
            self.spec.check_envelope(self.spec.id, name, payload)
        except RateLimited:
            self.gate.pause_for(DEFAULT_RATE_LIMIT_PAUSE_S)
            raise
        except Banned as exc:  # a ban told inside an HTTP 200 (BitMart 30017) holds every thread too
            until_s = (exc.until - datetime.now(UTC)).total_seconds() if exc.until else None
            self._pause(name, until_s)
            raise

    def pause_cap_s(self, name: str) -> float:
        """The longest pause a venue may ask before a call to `name`: `MAX_PAUSE_S`, or the longest
        window among the limits that charge it when that is longer."""
        windows = [limit.window_s for limit in self.spec.limits if limit.cost_of(name) > 0]
        return max([MAX_PAUSE_S, *windows])

    def _pause(self, name: str, seconds: float | None) -> None:
        """Pause the gate for a venue-requested time (None: unknown, the cap), within [0, cap]."""
        cap_s = self.pause_cap_s(name)
        self.gate.pause_for(min(max(cap_s if seconds is None else seconds, 0.0), cap_s))

    def _send(self, endpoint: Endpoint, deadline: float | None) -> requests.Response:
        name = endpoint.name
        timeout = self.timeout_s
        if deadline is not None:
            timeout = min(timeout, deadline - self.clock())
            if timeout <= 0:
                raise DeadlineExceeded(self.spec.id, name, "deadline passed before the call")
        with self._lock:
            self.requests += 1
        sent = time.perf_counter()
        try:
            response = self.session.request(
                endpoint.method,
                self.url_of(endpoint),
                params=dict(endpoint.params) or None,
                json=dict(endpoint.json_body) if endpoint.json_body is not None else None,
                timeout=timeout,
            )
        except requests.Timeout as exc:
            raise CallTimeout(self.spec.id, name, f"no answer within {timeout:.1f} s") from exc
        except requests.RequestException as exc:
            if exc.args and isinstance(exc.args[0], ReadTimeoutError):  # requests calls a read timeout
                # in the middle of the body a ConnectionError; it is a timeout all the same
                raise CallTimeout(self.spec.id, name, f"body stalled for {timeout:.1f} s") from exc
            raise ConnectionFailed(self.spec.id, name, f"{type(exc).__name__}: {exc}") from exc
        with self._lock:
            self.latencies_s.append(time.perf_counter() - sent)
        return response

    def _read_usage(self, endpoint: Endpoint, response: requests.Response) -> None:
        """Resync the gate from a usage header, for the limit it reports, and only from answers to
        calls that limit charges (Binance sends the same header name from fapi and dapi, each about
        its own pool)."""
        for header, limit_name in self.spec.usage_headers.items():
            value = response.headers.get(header)
            if value and value.isdigit() and self._charges(limit_name, endpoint):
                self.gate.observe_usage(limit_name, int(value))

    def _charges(self, limit_name: str, endpoint: Endpoint) -> bool:
        return any(
            limit.name == limit_name and limit.cost_of(endpoint.name) > 0 for limit in self.spec.limits
        )

    def _check_status(self, name: str, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        snippet = _snippet(response)
        venue = self.spec.id
        if status == 429:
            retry_after_s = _retry_after_s(response, self.spec.retry_after_unit_s)
            self._pause(name, retry_after_s or DEFAULT_RATE_LIMIT_PAUSE_S)
            raise RateLimited(venue, name, f"HTTP 429: {snippet}", retry_after_s)
        if status == 418 or (status == 403 and "too frequent" in snippet.lower()):
            until = _ban_end(response.text)
            pause_s = (
                (until - datetime.now(UTC)).total_seconds()
                if until
                else _retry_after_s(response, self.spec.retry_after_unit_s)
            )
            self._pause(name, pause_s or None)  # a zero or absent end: the cap
            raise Banned(venue, name, f"HTTP {status}: {snippet}", until)
        if status >= 500:
            raise HttpServerError(venue, name, f"HTTP {status}: {snippet}")
        raise HttpClientError(venue, name, f"HTTP {status}: {snippet}")

    def _decode(self, name: str, response: requests.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError as exc:
            kind = response.headers.get("Content-Type", "unknown type")
            raise BadJson(self.spec.id, name, f"body is not JSON ({kind}): {_snippet(response)}") from exc


def _snippet(response: requests.Response, limit: int = 160) -> str:
    """The start of a body for a log line, whitespace folded (HTML pages included)."""
    text = response.content[: limit * 4].decode("utf-8", "replace")
    return " ".join(text.split())[:limit]


def _retry_after_s(response: requests.Response, unit_s: float = 1.0) -> float | None:
    """`Retry-After` in seconds; `unit_s` is the venue's unit for it (dYdX sends milliseconds: 0.001)."""
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value) * unit_s
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _ban_end(body: str) -> datetime | None:
    """Binance's 418 body names the ban end as epoch ms: "IP banned until 1700000000000"."""
    match = _BAN_UNTIL_MS.search(body)
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
