"""Deribit perpetuals: one book summary per settlement currency (BTC, ETH, USDC, USDT), joined to that
currency's instrument list.

API docs: https://docs.deribit.com/api-reference/market-data/public-get_book_summary_by_currency,
https://docs.deribit.com/api-reference/market-data/public-get_instruments,
https://docs.deribit.com/articles/rate-limits. JSON-RPC over HTTP GET: `{"jsonrpc": "2.0", "result": …}`;
an `error` object (`{"code": 10028, "message": "too_many_requests"}`) replaces `result` on failure.

Calls: `get_book_summary_by_currency?currency=C&kind=future` and `get_instruments?currency=C&kind=future
&expired=false` for each C (`currency=any` is refused by the book summary, per a 2026 probe). A currency
whose call failed or answered the wrong shape costs only its own rows.

Funding is continuous: there is no settlement time and no funding interval. Fields used (numbers):
- `funding_8h`: funding realised over the **trailing 8 h**, a fraction — stored as `funding_rate` with
  `interval_hours` 8 (the window it covers) and `next_funding_time` null (never invented);
- `current_funding` is NOT stored: whether it is per hour or per 8 h is unverified (a third-party probe
  reads it as the instantaneous rate per 8 h; the recorded ticker shows 0.0 beside `funding_8h`
  0.00001742), so a trailing realised figure is the only documented reading;
- `mark_price` and `estimated_delivery_price` (the index, for a perpetual) in the quote currency;
- `open_interest`: **USD** for inverse contracts, **base units** for linear ones (× mark = USD);
- `volume_usd`: 24 h volume in USD.
Filters: only `-PERPETUAL` instruments (dated futures dropped); instruments `kind == "future"`,
`settlement_period == "perpetual"`, `is_active` not false. A perpetual missing from its currency's list is
kept, `unlisted`; when that list failed, `unfiltered`.
Symbols: `BTC-PERPETUAL` → `BTC/USD:BTC` inverse; `SOL_USDC-PERPETUAL` → `SOL/USDC:USDC` and
`*_USDT-PERPETUAL` → `…/USDT:USDT` linear; the list's `future_type` / `instrument_type` (`reversed` =
inverse) and `settlement_currency` win where given (the 2021 list has neither).
Limits: a public request costs 500 credits from a pool refilled at 10,000 per s (20 per s sustained,
burst 100); `get_instruments` is further held to 1 request per s (its page: "sustained rate: 1
request/second", no burst given, so none is assumed). The credit pool is declared as a 1 s sliding
window of 10,000 credits, stricter than its 100-call burst, which a cycle's 8 calls never need.
Crossing a limit ends the connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder import model
from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges.base import (
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    build_families,
    field_of,
    parse_rows,
    parse_secondary,
    product,
    text,
)
from funding_finder.model import ContractType, FundingRate, number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "deribit"
CURRENCIES = ("BTC", "ETH", "USDC", "USDT")
TRAILING_WINDOW_HOURS = 8.0
"""`funding_8h` covers the last 8 h; Deribit has no funding interval (continuous accrual)."""
PERPETUAL_SUFFIX = "-PERPETUAL"
RATE_LIMIT_CODES = frozenset({"10028"})
CONTRACT_TYPES: dict[str, ContractType] = {"reversed": "inverse", "linear": "linear"}
CREDITS_PER_REQUEST = 500
CREDITS_PER_S = 10_000


def rates_name(currency: str) -> str:
    return f"book_summary-{currency}"


def instruments_name(currency: str) -> str:
    return f"instruments-{currency}"


def check_envelope(venue: str, endpoint: str, payload: Any) -> None:
    """A JSON-RPC `error` object is an error (10028 `too_many_requests` a rate limit); no `result` is
    BadPayload."""
    if not isinstance(payload, dict):
        raise BadPayload(venue, endpoint, "no JSON-RPC envelope")
    error = payload.get("error")
    if error is not None:
        code = str(error.get("code")) if isinstance(error, dict) else ""
        message = error.get("message", "") if isinstance(error, dict) else error
        detail = f"error {code}: {message}"
        if code in RATE_LIMIT_CODES:
            raise RateLimited(venue, endpoint, detail)
        raise ExchangeError(venue, endpoint, detail)
    if "result" not in payload:
        raise BadPayload(venue, endpoint, "no result in the JSON-RPC answer")


SUMMARY_PATH = "/api/v2/public/get_book_summary_by_currency"
INSTRUMENTS_PATH = "/api/v2/public/get_instruments"
SPEC = VenueSpec(
    id=VENUE,
    name="Deribit",
    hosts={"api": "https://www.deribit.com"},
    endpoints=(
        *(
            Endpoint(rates_name(c), SUMMARY_PATH, Role.RATES, params={"currency": c, "kind": "future"})
            for c in CURRENCIES
        ),
        *(
            Endpoint(
                instruments_name(c),
                INSTRUMENTS_PATH,
                Role.INSTRUMENTS,
                params={"currency": c, "kind": "future", "expired": "false"},
            )
            for c in CURRENCIES
        ),
    ),
    limits=(
        # Credits: 500 a request, refilled at 10,000 per second (the sustained 20 requests per second).
        Limit("credits", CREDITS_PER_S, 1.0, default_cost=CREDITS_PER_REQUEST),
        Limit("get_instruments", 1, 1.0, costs={instruments_name(c): 1 for c in CURRENCIES}, default_cost=0),
    ),
    docs_url="https://docs.deribit.com/api-reference/market-data/public-get_book_summary_by_currency",
    check_envelope=check_envelope,
    workers=2,
)


@dataclass(frozen=True)
class Contract:
    """Symbol parts of a perpetual, from the instrument list or from its name."""

    name: str
    base: str
    quote: str
    settle: str
    contract_type: ContractType
    active: bool = True


@dataclass(frozen=True)
class Summary:
    name: str
    funding_8h: float
    mark_price: float | None
    index_price: float | None
    open_interest: float | None
    volume_usd: float | None


def contract_from_name(name: str) -> Contract:
    """`BTC-PERPETUAL` → BTC/USD:BTC inverse; `SOL_USDC-PERPETUAL` → SOL/USDC:USDC linear."""
    head = name.removesuffix(PERPETUAL_SUFFIX)
    if head == name or not head:
        raise ValueError(f"not a perpetual: {name!r}")
    if "_" in head:
        base, quote = head.split("_")
        return Contract(name, text(base), text(quote), quote, "linear")
    return Contract(name, head, "USD", head, "inverse")


def parse_book_summary(payload: Any, currency: str) -> Parsed[Summary]:
    """The perpetual rows of one currency's book summary; dated futures are dropped on purpose."""
    endpoint = rates_name(currency)
    rows = field_of(VENUE, endpoint, payload, "result")
    if rows == []:
        raise EmptyPayload(VENUE, endpoint, "no instruments")

    def one(row: Any) -> Summary | None:
        name = text(row["instrument_name"])
        if not name.endswith(PERPETUAL_SUFFIX):
            return None
        return Summary(
            name,
            number(row["funding_8h"]),
            optional_number(row.get("mark_price")),
            optional_number(row.get("estimated_delivery_price")),
            optional_number(row.get("open_interest")),
            optional_number(row.get("volume_usd")),
        )

    return parse_rows(VENUE, endpoint, rows, one)


def parse_instruments(payload: Any) -> Parsed[Contract]:
    """The perpetuals of one instrument list; options and dated futures are dropped on purpose."""

    def one(row: Any) -> Contract | None:
        if row.get("kind", "future") != "future" or row.get("settlement_period", "perpetual") != "perpetual":
            return None  # an option or a dated future (a row without these is judged by its name)
        named = contract_from_name(text(row["instrument_name"]))
        kind = row.get("future_type") or row.get("instrument_type")
        contract_type = CONTRACT_TYPES[kind] if kind else named.contract_type
        base = row.get("base_currency") or named.base
        quote = row.get("quote_currency") or named.quote
        settle = row.get("settlement_currency") or (base if contract_type == "inverse" else quote)
        return Contract(
            named.name,
            text(base),
            text(quote),
            text(settle),
            contract_type,
            row.get("is_active") is not False,
        )

    rows = field_of(VENUE, "instruments", payload, "result")
    if rows == []:  # never a real list: it would unlist every contract
        raise EmptyPayload(VENUE, "instruments", "no instruments")
    return parse_rows(VENUE, "instruments", rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    """The rows of every currency whose book summary answered; a failed (None), wrong-shaped or empty
    one costs only its own rows (`base.build_families`)."""

    def build_one(currency: str, payload: Any) -> BuildResult:
        summaries = parse_book_summary(payload, currency)
        name, unusable = instruments_name(currency), set[str]()
        listing = parse_secondary(payloads.get(name), parse_instruments, name, unusable)
        contracts = None if listing is None else {c.name: c for c in listing.items}
        joined = parse_rows(
            VENUE, rates_name(currency), summaries.items, lambda s: _row(s, contracts, observed_at)
        )
        bad_rows = summaries.bad_rows + joined.bad_rows + (listing.bad_rows if listing else 0)
        return BuildResult(joined.items, bad_rows, unusable)

    return build_families(
        payloads,
        {rates_name(currency): currency for currency in CURRENCIES},
        build_one,
        BadPayload(VENUE, rates_name(CURRENCIES[0]), "no book summary answered"),
    )


def _row(
    summary: Summary, contracts: Mapping[str, Contract] | None, observed_at: datetime
) -> FundingRate | None:
    contract = None if contracts is None else contracts.get(summary.name)
    if contract is not None and not contract.active:
        return None
    parts = contract or contract_from_name(summary.name)
    open_interest = summary.open_interest  # USD for inverse contracts, base units for linear ones
    if parts.contract_type == "linear":
        open_interest = product(open_interest, summary.mark_price)
    return model.make_rate(
        exchange=VENUE,
        native_symbol=summary.name,
        listed_base=parts.base,
        quote=parts.quote,
        settle=parts.settle,
        contract_type=parts.contract_type,
        funding_rate=summary.funding_8h,
        interval_hours=TRAILING_WINDOW_HOURS,
        next_funding_time=None,
        observed_at=observed_at,
        mark_price=summary.mark_price,
        index_price=summary.index_price,
        open_interest_usd=model.usd_value(open_interest, parts.quote),
        volume_24h_usd=summary.volume_usd,
        listed=None if contracts is None else contract is not None,
    )
