"""What a venue module declares, and the small helpers every venue's pure parsers share.

A venue module is data plus pure functions: a `VenueSpec` (hosts, endpoints, limits, envelope check)
and `build_rows(payloads, observed_at)`, which joins the decoded payloads of one cycle into
`FundingRate` rows. It knows nothing of threads, sessions or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import quote as url_quote

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, FetchError, RateLimited
from funding_finder.model import ContractType, FundingRate, SettledFunding, optional_number, settled
from funding_finder.ratelimit import Limit

log = logging.getLogger("funding_finder.exchanges")

T = TypeVar("T")
R = TypeVar("R")
F = TypeVar("F")

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


Paging = Literal["forward", "backward", "none"]


@dataclass(frozen=True)
class HistorySpec:
    """A venue's settled-funding history endpoint, for `backfill`.

    `endpoint` is called once per page. `params(native_symbol, start_ms, end_ms, page_rows)` (epoch ms,
    both inclusive) gives the page's query parameters, or its JSON body when the endpoint is a POST,
    merged over the endpoint's own; a `{symbol}` in the endpoint's path is the native symbol (dYdX puts
    the ticker in the path). `paging` says how the rows' own times page the range: "forward" (each page
    starts after the newest row of the one before: Binance, Hyperliquid), "backward" (each page ends
    before the oldest row of the one before, for venues that answer newest first: Bybit, OKX, dYdX) or
    "none" (one call answers the whole history: Kraken). A page with fewer than `page_rows` rows (good
    and malformed) ends the contract. `parse(payload, native_symbol)` returns the page's events;
    `covers` says which stored contracts this endpoint has history for (one family of a venue, say).
    `workers` is how many contracts' calls may be in flight at once (None: the venue's cycle `workers`),
    sized so that the venue's limit, not the round trip, sets the pace.
    """

    endpoint: Endpoint
    page_rows: int
    params: Callable[[str, int, int, int], Mapping[str, Any]]
    parse: Callable[[Any, str], Parsed[SettledFunding]]
    covers: Callable[[FundingRate], bool] = lambda row: True
    paging: Paging = "forward"
    workers: int | None = None

    def request(self, native_symbol: str, start_ms: int, end_ms: int) -> Endpoint:
        """The call for one page of `native_symbol` from `start_ms` to `end_ms` (epoch ms, inclusive),
        charged to per-instrument limits as that symbol."""
        fields = self.params(native_symbol, start_ms, end_ms, self.page_rows)
        path = self.endpoint.path.replace("{symbol}", url_quote(native_symbol, safe=""))
        if self.endpoint.method == "POST":
            where: dict[str, Any] = {"json_body": {**(self.endpoint.json_body or {}), **fields}}
        else:
            where = {"params": {**self.endpoint.params, **{k: str(v) for k, v in fields.items()}}}
        return replace(self.endpoint, path=path, instrument=native_symbol, **where)


def binance_history(
    venue: str,
    name: str,
    path: str,
    *,
    page_rows: int = 1000,
    covers: Callable[[FundingRate], bool] = lambda row: True,
    workers: int | None = None,
) -> HistorySpec:
    """The Binance-style `fundingRate` history (Binance USDⓈ-M and Aster): `symbol`, `startTime`, `endTime`
    (epoch ms, inclusive) and `limit` (rows, at most 1000), oldest first, so it pages forward."""
    return HistorySpec(
        Endpoint(name, path, Role.RATES),
        page_rows=page_rows,
        params=lambda symbol, start_ms, end_ms, rows: {
            "symbol": symbol,
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": rows,
        },
        parse=lambda payload, symbol: parse_binance_history(venue, name, payload, symbol),
        covers=covers,
        workers=workers,
    )


def parse_binance_history(
    venue: str, endpoint: str, payload: Any, native_symbol: str
) -> Parsed[SettledFunding]:
    """Binance-style history rows: `fundingTime` (int ms, with jitter), `fundingRate` (string fraction per
    interval, the rate paid then), `markPrice` (string, may be "" or absent). Rows of another symbol are
    dropped; an error object (`{"code": -1121, ...}`) is BadPayload."""

    def one(row: Any) -> SettledFunding | None:
        if text(row["symbol"]) != native_symbol:
            return None
        return settled(venue, native_symbol, row["fundingTime"], row["fundingRate"], row.get("markPrice"))

    return parse_rows(venue, endpoint, payload, one)


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

    history: HistorySpec | None = None
    """The settled-funding history endpoint, where the venue has one (`backfill`)."""

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


def caps_by_symbol(payload: Any, *bound_fields: str, key: str = "symbol") -> dict[str, float]:
    """Name → `rate_cap` of its row's bound fields, from a list of rows (Binance and Aster fundingInfo).
    A row without a name or a readable bound is left out; a payload that is not a list gives none."""
    caps: dict[str, float] = {}
    for row in payload if isinstance(payload, list) else ():
        name = row.get(key) if isinstance(row, dict) else None
        if not isinstance(name, str):
            continue
        cap = rate_cap(*(row.get(field) for field in bound_fields))
        if cap is not None:
            caps[name] = cap
    return caps


def product(*factors: float | None) -> float | None:
    """The product of the factors, None when one is unknown (open interest = contracts × size × mark)."""
    result = 1.0
    for factor in factors:
        if factor is None:
            return None
        result *= factor
    return result


def interval_hours(value: Any, unit_s: float, *, strict: bool = False) -> float | None:
    """A funding interval given in the venue's unit (`unit_s` seconds per unit: 1 for seconds, 0.001
    for ms, 60 for minutes, 3600 for hours) in hours; None when absent, `""`, 0 or negative (unknown,
    never a default). A value that is not a number is a malformed row (ValueError); with `strict`, so
    is 0 or a negative one (Gate, WOO X, whose rows always carry a real interval)."""
    amount = optional_number(value)
    if strict and amount is not None and amount <= 0:
        raise ValueError(f"funding interval {value!r}")
    if amount is None or amount <= 0:
        return None
    return amount * unit_s / S_PER_HOUR


def ms_of_iso(value: Any) -> int:
    """An ISO-8601 time with its zone (`2025-12-08T16:00:00.219Z`, `2026-08-27T12:00:00Z`) as epoch ms;
    TypeError / ValueError (a malformed row) when it is not a string or has no zone."""
    if not isinstance(value, str):
        raise TypeError(f"not a time: {value!r}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r}")
    return round(moment.timestamp() * 1000)


def iso_of_ms(epoch_ms: int) -> str:
    """Epoch ms as ISO-8601 UTC with milliseconds (`2025-12-08T16:00:00.219Z`), for venues whose time
    parameters are ISO strings (dYdX `effectiveBeforeOrAt`)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


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
    require_object: bool = False,
    error_code_fields: tuple[str, ...] = (),
) -> Callable[[str, str, Any], None]:
    """The envelope check of a venue that puts a status code in every JSON object it answers.

    Codes are compared as text, since venues send the same code as a number or a string (`0`, `"0"`).
    A code in `ok` passes; one in `rate_limit_codes` raises RateLimited (a limit answered inside HTTP
    200 slows the venue like a 429); any other raises ExchangeError with the venue's message; an object
    without `code_field` is BadPayload. A body that is not an object (a bare list) is left to the parser,
    or is BadPayload with `require_object` (a venue that answers every call with an object: OKX, Bybit).

    `error_code_fields` are where a venue whose `code_field` is only a status (HTX `status: "ok"`, Kraken
    `result: "success"`, WOO X `success: true`) puts the error's own code: the first one present is named
    in the error, and a rate-limit code there raises RateLimited before anything else is checked (WOO X
    answers -1003 without `success`).
    """
    ok_codes = frozenset(str(code) for code in ok)
    limited = frozenset(str(code) for code in rate_limit_codes)

    def check(venue: str, endpoint: str, payload: Any) -> None:
        if not isinstance(payload, dict):
            if require_object:
                raise BadPayload(
                    venue, endpoint, f"expected an object with {code_field}, got {type(payload).__name__}"
                )
            return
        message = next((str(payload[f]) for f in message_fields if payload.get(f)), "")
        error = next(
            ((f, str(payload[f])) for f in error_code_fields if payload.get(f) not in ("", None)), None
        )
        if error is not None and error[1] in limited:
            raise RateLimited(venue, endpoint, f"{error[0]} {error[1]}: {message}".rstrip(": "))
        if code_field not in payload:
            raise BadPayload(venue, endpoint, f"no {code_field} in the answer")
        code = str(payload[code_field])
        if code in ok_codes:
            return
        named = "" if error is None else f", {error[0]} {error[1]}"
        detail = f"{code_field} {code}{named}: {message}".rstrip(": ")
        if code in limited:
            raise RateLimited(venue, endpoint, detail)
        raise ExchangeError(venue, endpoint, detail)

    return check


def error_body_envelope(
    field: str,
    *,
    message_fields: tuple[str, ...] = ("msg", "message"),
    rate_limit_codes: Iterable[Any] = (),
    rate_limit_phrases: Iterable[str] = (),
    is_error: Callable[[Any], bool] = bool,
) -> Callable[[str, str, Any], None]:
    """The envelope check of a venue with no success code, whose error is an object carrying `field`
    where its documented body (an array, a `results` object) was expected: Backpack `code`, Coinbase
    International `message`, Paradex `error`, Aster's Binance-style negative `code`.

    An object whose `field` is an error by `is_error` (by default: any non-empty value) raises
    ExchangeError naming it and the venue's message; RateLimited when the value (as text) is in
    `rate_limit_codes` or the error's text contains one of `rate_limit_phrases` (case-insensitive).
    Anything else is left to the parser.
    """
    limited = frozenset(str(code) for code in rate_limit_codes)
    phrases = tuple(phrase.lower() for phrase in rate_limit_phrases)

    def check(venue: str, endpoint: str, payload: Any) -> None:
        if not isinstance(payload, dict) or not is_error(payload.get(field)):
            return
        value = str(payload[field])
        message = next((str(payload[f]) for f in message_fields if f != field and payload.get(f)), "")
        detail = f"{field} {value}: {message}".rstrip(": ")
        if value in limited or any(phrase in detail.lower() for phrase in phrases):
            raise RateLimited(venue, endpoint, detail)
        raise ExchangeError(venue, endpoint, detail)

    return check


def split_by_quote(symbol: str, quotes: Iterable[str] | Mapping[str, str]) -> tuple[str, str]:
    """`BTCUSDT` → (`BTC`, `USDT`) by the first known quote suffix the symbol ends with (after a
    non-empty base), tried in order, so a quote that ends another (`USD` of `USDT`) comes after it.
    `quotes` is the suffixes, or a mapping suffix → quote where the suffix is not the quote's name
    (Bybit's and Bitget's `BTCPERP` is USDC-quoted). ValueError when no suffix fits."""
    pairs = quotes.items() if isinstance(quotes, Mapping) else ((quote, quote) for quote in quotes)
    for suffix, quote in pairs:
        if symbol.endswith(suffix) and len(symbol) > len(suffix):
            return symbol[: -len(suffix)], quote
    raise ValueError(f"no known quote in {symbol!r}")


INVERSE_QUOTE = "USD"
"""The quote of coin-margined contracts on venues that list both kinds under one naming scheme."""


def settle_and_type(base: str, quote: str) -> tuple[str, ContractType]:
    """A contract quoted in USD itself (not a dollar stablecoin) is inverse, margined and settled in its
    base coin (`BTCUSD` → BTC); any other quote is linear, settled in the quote (`BTCUSDT` → USDT)."""
    return (base, "inverse") if quote == INVERSE_QUOTE else (quote, "linear")


def hours_between(start_ms: float | None, end_ms: float | None) -> float | None:
    """The hours from one settlement (epoch ms) to the next: a venue's interval where it gives two
    settlement times and no interval (OKX, CoinEx); None when either is unknown or the second is not
    after the first (a time comparison never costs the row)."""
    if start_ms is None or end_ms is None or end_ms <= start_ms:
        return None
    return (end_ms - start_ms) / MS_PER_HOUR


def build_families(
    payloads: Mapping[str, Any | None],
    families: Mapping[str, F],
    build_one: Callable[[F, Any], BuildResult],
    none_answered: FetchError,
) -> BuildResult:
    """The rows of a venue whose rates come in families (linear and inverse lists, one list per settle
    currency or product type), each keyed by the name of its rates endpoint.

    `build_one(family, payload)` builds one family from its rates payload. A family whose call failed
    (None) is skipped; one whose payload is wrong-shaped or empty (BadPayload or EmptyPayload out of
    `build_one`) is logged, noted in `unusable` and costs only its own rows. `none_answered` is raised
    when no family's payload is there, and the first family's error when no family produced a row.
    """
    result = BuildResult([])
    errors: list[FetchError] = []
    answered = False
    for name, family in families.items():
        payload = payloads.get(name)
        if payload is None:
            continue
        answered = True
        try:
            part = build_one(family, payload)
        except (BadPayload, EmptyPayload) as exc:
            log.warning("%s; the venue's other families are kept", exc)
            errors.append(exc)
            result.unusable.add(name)
            continue
        result.rows += part.rows
        result.bad_rows += part.bad_rows
        result.unusable |= part.unusable
    if not answered:
        raise none_answered
    if errors and not result.rows:
        raise errors[0]
    return result


def index_by(items: Iterable[T], key: Callable[[T], str]) -> dict[str, T]:
    return {key(item): item for item in items}
