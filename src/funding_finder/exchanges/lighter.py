"""Lighter perpetuals (mainnet): every market's rate in one `GET /api/v1/funding-rates`, joined to the
market list `GET /api/v1/orderBookDetails`.

API docs: https://apidocs.lighter.xyz/reference/funding-rates and the orderBookDetails page of the same
reference (envelope `{"code": 200, …}`; errors keep the envelope with another `code`).

Fields used:
- funding-rates `funding_rates[]`: `exchange` (the venue the rate belongs to: the list also carries
  Binance, Bybit and Hyperliquid rates for comparison; only `lighter` rows are kept), `market_id`
  (integer), `symbol` (`ETH`, `1000PEPE`), `rate` (JSON number, fraction on an **8 h basis**);
- orderBookDetails `order_book_details[]`: `market_id`, `symbol`, `market_type` (`perp`), `status`
  (`active`), `daily_quote_token_volume` (24 h volume in USDC). No mark or index price in either
  endpoint, so prices and open interest (`open_interest` is in base units and needs a mark) stay None.

Rate reading (marked unverified in the notes): `rate` is taken as an 8 h-equivalent fraction while
Lighter funds every hour, so `funding_rate = rate / 8` per 1 h interval. Chosen because the same list
quotes Hyperliquid, which funds hourly (baseline 0.0000125 per hour), at 0.0001 = its 8 h equivalent,
and because Lighter's own hourly history (`/fundings`, percent per hour) shows 0.0012 % = 0.000012 for
the baseline this endpoint reports as 0.000096 = 8 × 0.000012. The tests pin this reading.
Interval: fixed 1 h (the notes mark the hourly schedule unverified; Lighter's docs and its Go SDK say
funding is paid every hour), so the settlement is the next full hour after `observed_at`.
Filters (venue fields only): other venues' rows (`exchange`); markets whose `market_type` is not `perp`
or whose `status` is not `active` (a missing field is unknown: kept). A rate missing from the market
list is kept, `unlisted`. Symbols: `SYMBOL/USDC:USDC` (USDC collateral), linear.
The Robinhood-chain deployment (https://api.rh.lighter.xyz) is a separate exchange with its own market
ids and USDG collateral (https://apidocs.lighter.xyz/docs/lighter-rh); it is not collected here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder.errors import EmptyPayload
from funding_finder.exchanges.base import (
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    code_envelope,
    field_of,
    parse_rows,
    parse_secondary,
    text,
)
from funding_finder.model import FundingRate, make_rate, next_full_hour, number, optional_number, usd_value
from funding_finder.ratelimit import Limit

VENUE = "lighter"
RATES, INSTRUMENTS = "funding-rates", "orderBookDetails"
RATE_BASIS_HOURS = 8
"""`/funding-rates` `rate` is a fraction per 8 h (see the module docstring for why)."""
INTERVAL_HOURS = 1.0
QUOTE = SETTLE = "USDC"
RATE_LIMIT_CODES = (23000, 23001, 23002, 23003)
"""`code` values of Lighter's rate limits inside HTTP 200 (23000 "Too Many Requests!" is recorded;
23001–23003 are listed as rate limits by ccxt's Lighter adapter)."""

check_envelope = code_envelope(
    "code", ok=(200,), message_fields=("message", "msg"), rate_limit_codes=RATE_LIMIT_CODES
)

SPEC = VenueSpec(
    id=VENUE,
    name="Lighter",
    hosts={"api": "https://mainnet.zklighter.elliot.ai"},
    endpoints=(
        Endpoint(RATES, "/api/v1/funding-rates", Role.RATES),
        Endpoint(INSTRUMENTS, "/api/v1/orderBookDetails", Role.INSTRUMENTS),
    ),
    # Standard (unauthenticated) accounts: 60 requests per rolling minute per IP, unweighted; the
    # premium weights (300 for these endpoints, 24,000 per minute) allow more than 60, so 60 binds
    # (https://apidocs.lighter.xyz/docs/rate-limits).
    limits=(Limit("standard", 60, 60.0),),
    docs_url="https://apidocs.lighter.xyz/reference/funding-rates",
    check_envelope=check_envelope,
    workers=2,
)


@dataclass(frozen=True)
class Rate:
    market_id: int
    symbol: str
    rate_8h: float
    """Fraction per 8 h, as Lighter publishes it; divided by RATE_BASIS_HOURS per hourly interval."""


@dataclass(frozen=True)
class Book:
    market_id: int
    symbol: str
    tradable: bool
    """A perpetual whose status is active (a missing type or status counts as tradable)."""
    volume_24h_quote: float | None


def parse_funding_rates(payload: Any) -> Parsed[Rate]:
    """Lighter's own rows of the list; the other venues' comparison rows are dropped on purpose."""
    rows = field_of(VENUE, RATES, payload, "funding_rates")
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no rates")

    def one(row: Any) -> Rate | None:
        if row.get("exchange", VENUE) != VENUE:  # no venue field: unknown, so kept
            return None
        return Rate(_market_id(row["market_id"]), text(row["symbol"]), number(row["rate"]))

    return parse_rows(VENUE, RATES, rows, one)


def parse_order_book_details(payload: Any) -> Parsed[Book]:
    """Every market of the list; `tradable` is False for non-perpetuals and inactive markets."""
    rows = field_of(VENUE, INSTRUMENTS, payload, "order_book_details")
    if rows == []:  # never a real list: it would unlist every market
        raise EmptyPayload(VENUE, INSTRUMENTS, "no markets")

    def one(row: Any) -> Book:
        tradable = row.get("market_type", "perp") == "perp" and row.get("status", "active") == "active"
        return Book(
            _market_id(row["market_id"]),
            text(row["symbol"]),
            tradable,
            optional_number(row.get("daily_quote_token_volume")),
        )

    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    rates = parse_funding_rates(payloads[RATES])
    unusable: set[str] = set()
    parsed_books = parse_secondary(payloads.get(INSTRUMENTS), parse_order_book_details, INSTRUMENTS, unusable)
    books = None if parsed_books is None else {b.market_id: b for b in parsed_books.items}
    bad_rows = rates.bad_rows + (parsed_books.bad_rows if parsed_books else 0)
    settlement = next_full_hour(observed_at)  # hourly funding at the top of the hour

    def join(rate: Rate) -> FundingRate | None:
        book = None if books is None else books.get(rate.market_id)
        if book is not None and not book.tradable:
            return None  # spot, or not active
        return make_rate(
            exchange=VENUE,
            native_symbol=rate.symbol,
            listed_base=book.symbol if book else rate.symbol,
            quote=QUOTE,
            settle=SETTLE,
            contract_type="linear",
            funding_rate=rate.rate_8h / RATE_BASIS_HOURS,
            interval_hours=INTERVAL_HOURS,
            next_funding_time=settlement,
            observed_at=observed_at,
            volume_24h_usd=usd_value(book.volume_24h_quote, QUOTE) if book else None,
            listed=None if books is None else book is not None,
        )

    joined = parse_rows(VENUE, RATES, rates.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)


def _market_id(value: Any) -> int:
    """Lighter's integer market index (a JSON integer; booleans and floats are malformed)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not a market id: {value!r}")
    return value
