"""The failures a venue call can end in, one class per counted kind.

Every error names the venue and endpoint so that a log line or a stats row says where it happened.
`kind` is the key under which the collector counts it.
"""

from __future__ import annotations

from datetime import datetime


class FetchError(Exception):
    """A call to one venue endpoint that did not yield a usable payload."""

    kind = "error"

    def __init__(self, venue: str, endpoint: str, detail: str) -> None:
        super().__init__(f"{venue} {endpoint}: {detail}")
        self.venue = venue
        self.endpoint = endpoint
        self.detail = detail


class CallTimeout(FetchError, TimeoutError):
    kind = "timeout"


class ConnectionFailed(FetchError, ConnectionError):
    kind = "connection"


class RateLimited(FetchError):
    """HTTP 429 or a venue's rate-limit code inside a body; `retry_after_s` when the venue said."""

    kind = "rate_limited"

    def __init__(self, venue: str, endpoint: str, detail: str, retry_after_s: float | None = None):
        super().__init__(venue, endpoint, detail)
        self.retry_after_s = retry_after_s


class Banned(FetchError):
    """HTTP 418 or a ban message; `until` when the venue named the end of the ban."""

    kind = "banned"

    def __init__(self, venue: str, endpoint: str, detail: str, until: datetime | None = None):
        super().__init__(venue, endpoint, detail)
        self.until = until


class HttpClientError(FetchError):
    kind = "http_4xx"


class HttpServerError(FetchError):
    kind = "http_5xx"


class ExchangeError(FetchError):
    """An error envelope inside an HTTP 200 (OKX `code != "0"`, Bybit `retCode`, ...)."""

    kind = "exchange_error"


class BadJson(FetchError, ValueError):
    kind = "bad_json"


class BadPayload(FetchError, ValueError):
    """The JSON decoded but is not the shape the endpoint documents."""

    kind = "bad_payload"


class EmptyPayload(FetchError):
    kind = "empty"


class DeadlineExceeded(FetchError, TimeoutError):
    kind = "deadline"


RETRYABLE_KINDS = frozenset({"timeout", "connection", "http_5xx", "rate_limited"})
"""Kinds worth another try inside the cycle's deadline; 4xx validation errors never are."""
