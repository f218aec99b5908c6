"""What a venue module declares, and the small helpers every venue's pure parsers share.

A venue module is data plus pure functions: a `VenueSpec` (hosts, endpoints, limits, envelope check)
and `build_rows(payloads, observed_at)`, which joins the decoded payloads of one cycle into
`FundingRate` rows. It knows nothing of threads, sessions or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.model import FundingRate, optional_number
from funding_finder.ratelimit import Limit

log = logging.getLogger("funding_finder.exchanges")

T = TypeVar("T")
R = TypeVar("R")

ROW_ERRORS = (KeyError, IndexError, TypeError, ValueError, ArithmeticError, AttributeError)
"""What a malformed row raises inside a parser; it costs that row, never the response."""


class Role(Enum):
    """What a failed call of an endpoint costs the cycle."""

    RATES = "rates"
    """Required: without it the venue has no rows this cycle."""
    INSTRUMENTS = "instruments"
    """Instrument list: on failure the last stored copy is used, else rows are flagged `unfiltered`."""
    EXTRA = "extra"
    """Enrichment (intervals, prices): on failure `build_rows` gets None and leaves those fields null."""


@dataclass(frozen=True)
class Endpoint:
    """One HTTP call of a venue's cycle. `name` doubles as the rate-limit id of the endpoint."""

    name: str
    path: str
    role: Role = Role.RATES
    method: str = "GET"
    params: Mapping[str, str] = field(default_factory=dict)
    json_body: Mapping[str, Any] | None = None
    host: str = "api"
    instrument: str | None = None
    """The instrument id charged to per-instrument limits (OKX `instId=ANY`)."""
    max_age_s: float | None = None
    """INSTRUMENTS only: how long a stored copy may stand in for the call (None: the collector's
    setting; 0: every cycle, where the list's absences carry meaning, as Binance's delistings)."""


@dataclass(frozen=True)
class VenueSpec:
    """A venue as data: where it is, what a cycle calls, and the limits it publishes."""

    id: str
    name: str
    hosts: Mapping[str, str]
    """Host roots by key, e.g. {"api": "https://fapi.binance.com"}; paths follow from the root."""
    endpoints: tuple[Endpoint, ...]
    limits: tuple[Limit, ...]
    docs_url: str
    check_envelope: Callable[[str, str, Any], None] = lambda venue, endpoint, payload: None
    """Raises ExchangeError / RateLimited for an error envelope inside an HTTP 200."""
    workers: int = 4
    usage_headers: Mapping[str, str] = field(default_factory=dict)
    """Response header → limit name it reports the used units of (Binance `X-MBX-USED-WEIGHT-1M`)."""
    retry_after_unit_s: float = 1.0
    """The unit of the venue's `Retry-After` header, in seconds (dYdX sends milliseconds: 0.001)."""
    per_instrument: Callable[[Mapping[str, Any | None], int], Sequence[Endpoint]] | None = None
    """For a venue without a bulk endpoint (or whose bulk call failed): the second round of calls, one
    per instrument, planned from the first round's payloads (a failed instrument list arrives as its
    stored copy, or None) and the venue's cycle number (0, 1, 2, ...), so that a venue whose limit
    forbids a full pass per cycle can rotate through its instruments. Each answer reaches
    `build_rows` as `payloads[endpoint.name][endpoint.instrument]`."""

    def endpoint(self, name: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        raise KeyError(name)


@dataclass
class BuildResult:
    """The rows of one venue cycle and how many malformed rows were skipped on the way."""

    rows: list[FundingRate]
    bad_rows: int = 0
    unusable: set[str] = field(default_factory=set)
    """Secondary endpoints whose payload had the wrong shape and was used as if its call had failed."""


class Venue(Protocol):
    """The shape of a module under `exchanges/`."""

    SPEC: VenueSpec

    def build_rows(self, payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult: ...


@dataclass
class Parsed(Generic[R]):
    """Items parsed from one payload; `bad_rows` counts rows skipped because they were malformed."""

    items: list[R]
    bad_rows: int = 0


def parse_rows(venue: str, endpoint: str, rows: Any, parse_one: Callable[[Any], R | None]) -> Parsed[R]:
    """Apply `parse_one` to every row; None drops a row on purpose (status, type), an exception
    drops it as malformed with one log line naming venue and endpoint."""
    if not isinstance(rows, list):
        raise BadPayload(venue, endpoint, f"expected a list of rows, got {type(rows).__name__}")
    parsed: Parsed[R] = Parsed([])
    for row in rows:
        try:
            item = parse_one(row)
        except ROW_ERRORS as exc:
            parsed.bad_rows += 1
            log.warning(
                "%s %s: skipped a malformed row (%s: %s): %.200r",
                venue,
                endpoint,
                type(exc).__name__,
                exc,
                row,
            )
            continue
        if item is not None:
            parsed.items.append(item)
    return parsed


def parse_secondary(
    payload: Any | None, parse: Callable[[Any], Parsed[R]], endpoint: str, unusable: set[str]
) -> Parsed[R] | None:
    """Parse an EXTRA or INSTRUMENTS payload. One that is missing, or of the wrong shape, costs only
    what depends on it: None is returned (and a wrong shape is noted in `unusable`), never an error."""
    if payload is None:
        return None
    try:
        return parse(payload)
    except (BadPayload, EmptyPayload) as exc:
        log.warning("%s; used as if the call had failed", exc)
        unusable.add(endpoint)
        return None


MS_PER_HOUR = 3_600_000
S_PER_HOUR = 3600


def rate_cap(*bounds: Any) -> float | None:
    """A contract's bound on |funding_rate| (fraction per interval) from the venue's cap and floor
    fields: the largest |bound|. One absent, unreadable or 0 is skipped (0 means no bound), so a bad cap
    never costs the row; None when no bound is left."""
    caps = []
    for bound in bounds:
        try:
            value = optional_number(bound)
        except ValueError:
            continue
        if value:
            caps.append(abs(value))
    return max(caps, default=None)


def product(*factors: float | None) -> float | None:
    """The product of the factors, None when one is unknown (open interest = contracts × size × mark)."""
    result = 1.0
    for factor in factors:
        if factor is None:
            return None
        result *= factor
    return result


def interval_hours(value: Any, unit_s: float) -> float | None:
    """A funding interval given in the venue's unit (`unit_s` seconds per unit: 1 for seconds, 0.001
    for ms, 60 for minutes, 3600 for hours) in hours; None when absent, `""`, 0 or negative (unknown,
    never a default). A value that is not a number is a malformed row (ValueError)."""
    amount = optional_number(value)
    if amount is None or amount <= 0:
        return None
    return amount * unit_s / S_PER_HOUR


def text(value: Any) -> str:
    """A non-empty string from a payload (a symbol, an asset name); TypeError otherwise."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"not a name: {value!r}")
    return value


def field_of(venue: str, endpoint: str, payload: Any, *path: str | int) -> Any:
    """`payload[path[0]][path[1]]...`, or BadPayload naming the missing step."""
    node = payload
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            raise BadPayload(venue, endpoint, f"missing {'.'.join(map(str, path))}") from None
    return node


def code_envelope(
    code_field: str,
    ok: Iterable[Any],
    *,
    message_fields: tuple[str, ...] = ("msg", "message"),
    rate_limit_codes: Iterable[Any] = (),
) -> Callable[[str, str, Any], None]:
    """The envelope check of a venue that puts a status code in every JSON object it answers.

    Codes are compared as text, since venues send the same code as a number or a string (`0`, `"0"`).
    A code in `ok` passes; one in `rate_limit_codes` raises RateLimited (a limit answered inside HTTP
    200 slows the venue like a 429); any other raises ExchangeError with the venue's message; an object
    without `code_field` is BadPayload. A body that is not an object (a bare list) is left to the parser.
    """
    ok_codes = frozenset(str(code) for code in ok)
    limited = frozenset(str(code) for code in rate_limit_codes)

    def check(venue: str, endpoint: str, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        if code_field not in payload:
            raise BadPayload(venue, endpoint, f"no {code_field} in the answer")
        code = str(payload[code_field])
        if code in ok_codes:
            return
        message = next((str(payload[f]) for f in message_fields if payload.get(f)), "")
        detail = f"{code_field} {code}: {message}".rstrip(": ")
        if code in limited:
            raise RateLimited(venue, endpoint, detail)
        raise ExchangeError(venue, endpoint, detail)

    return check


def index_by(items: Iterable[T], key: Callable[[T], str]) -> dict[str, T]:
    return {key(item): item for item in items}
