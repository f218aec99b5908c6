"""Backpack Exchange USDC perpetuals: every perp's mark and funding in one `markPrices` call, joined to the
market list, which is the only source of the funding interval.

API docs: https://docs.backpack.exchange/#tag/Markets (host `https://api.backpack.exchange`).

- `GET /api/v1/markPrices` without `symbol` (RATES): a bare JSON array, one object per perpetual (also an
  array for one symbol). `fundingRate` (string, fraction per interval) is the **current** period's rate,
  settling at `nextFundingTimestamp` (epoch **ms**); `markPrice`, `indexPrice` (strings, USDC). No
  next-period rate, open interest or volume: left None.
- `GET /api/v1/markets` (INSTRUMENTS): `symbol`, `baseSymbol`, `quoteSymbol`, `marketType`,
  `orderBookState`, `fundingInterval` (**milliseconds**, ÷ 3 600 000 → hours) — the interval source. It is
  read on every cycle, per symbol: Backpack moved its perps from 8 h (28800000 in early-2025 data) to hourly
  (the October-2025 recording settles at 11:00Z; a 2026 probe saw 3600000 on every perp), so no interval is
  ever assumed. **No markets payload (failed call, wrong shape, or none recorded — the simulator has no
  recording of it) ⇒ every interval is unknown** (`interval_unknown`, `apr` None) and rows are `unfiltered`.
  A markets row without a positive `fundingInterval` leaves that row's interval unknown.

Filters (the list's own fields): keep `marketType == "PERP"` (SPOT, IPERP, DATED, PREDICTION, RFQ rows are
dropped) and drop `orderBookState == "Closed"`; a missing field keeps the row. A markPrices row missing from
the list is kept, `unlisted`. Symbols: the list's `baseSymbol` / `quoteSymbol`, else `BASE_USDC_PERP` →
`BASE/USDC:USDC`; linear, settled in the quote (USDC).

Limits: Backpack publishes none; ccxt assumes 20 requests per second (per IP), declared here. Over it:
HTTP 429, code `TOO_MANY_REQUESTS` (ccxt's error map). Errors inside HTTP 200 are not documented
(unverified); a JSON object with a `code` where an array is expected is read as the venue's error body.
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
    error_body_envelope,
    interval_hours,
    parse_rows,
    parse_secondary,
    text,
)
from funding_finder.model import FundingRate, from_ms, make_rate, number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "backpack"
RATES, MARKETS = "markPrices", "markets"
PERP = "PERP"
CLOSED = "Closed"
RATE_LIMIT_CODES = frozenset({"TOO_MANY_REQUESTS"})


check_envelope = error_body_envelope("code", message_fields=("message",), rate_limit_codes=RATE_LIMIT_CODES)
"""Arrays pass; an object carrying `code` is Backpack's error body (TOO_MANY_REQUESTS = rate limit)."""


SPEC = VenueSpec(
    id=VENUE,
    name="Backpack",
    hosts={"api": "https://api.backpack.exchange"},
    endpoints=(
        Endpoint(RATES, "/api/v1/markPrices", Role.RATES),
        Endpoint(MARKETS, "/api/v1/markets", Role.INSTRUMENTS),
    ),
    limits=(Limit("ip", 20, 1.0),),  # unpublished; ccxt's 20 requests per second
    docs_url="https://docs.backpack.exchange/#tag/Markets",
    check_envelope=check_envelope,
    workers=2,
)


@dataclass(frozen=True)
class Mark:
    symbol: str
    rate: float
    next_funding_time: datetime | None
    mark_price: float | None
    index_price: float | None


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    quote: str
    kept: bool
    """A tradable perpetual: `marketType` PERP (or absent) and an order book not Closed."""
    interval_hours: float | None


def split_symbol(symbol: str) -> tuple[str, str]:
    """`BTC_USDC_PERP` → (`BTC`, `USDC`); anything else is not a perpetual's name (ValueError)."""
    base, quote, kind = symbol.rsplit("_", 2)
    if kind != PERP or not base or not quote:
        raise ValueError(f"not a perpetual symbol: {symbol!r}")
    return base, quote


def parse_mark_prices(payload: Any) -> Parsed[Mark]:
    """Every perpetual's current rate; not an array is BadPayload, an empty array EmptyPayload."""
    if payload == []:
        raise EmptyPayload(VENUE, RATES, "no rows")

    def one(row: Any) -> Mark:
        next_ms = optional_number(row.get("nextFundingTimestamp"))
        return Mark(
            text(row["symbol"]),
            number(row["fundingRate"]),
            from_ms(next_ms) if next_ms else None,
            optional_number(row.get("markPrice")),
            optional_number(row.get("indexPrice")),
        )

    return parse_rows(VENUE, RATES, payload, one)


def parse_markets(payload: Any) -> Parsed[Market]:
    """Every listed market; `kept` marks the tradable perpetuals. An empty list is EmptyPayload (it would
    unlist every contract), a non-array BadPayload."""
    if payload == []:
        raise EmptyPayload(VENUE, MARKETS, "no markets")

    def one(row: Any) -> Market:
        kind = row.get("marketType")
        kept = kind in (PERP, None) and row.get("orderBookState") != CLOSED
        return Market(
            text(row["symbol"]),
            text(row["baseSymbol"]),
            text(row["quoteSymbol"]),
            kept,
            interval_hours(row.get("fundingInterval"), 0.001),  # ms
        )

    return parse_rows(VENUE, MARKETS, payload, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    marks = parse_mark_prices(payloads[RATES])
    unusable: set[str] = set()
    parsed_markets = parse_secondary(payloads.get(MARKETS), parse_markets, MARKETS, unusable)
    markets = None if parsed_markets is None else {m.symbol: m for m in parsed_markets.items}
    bad_rows = marks.bad_rows + (parsed_markets.bad_rows if parsed_markets else 0)

    def join(mark: Mark) -> FundingRate | None:
        market = None if markets is None else markets.get(mark.symbol)
        if market is not None and not market.kept:
            return None  # not a perpetual, or its book is closed
        if market is None:
            base, quote = split_symbol(mark.symbol)
            market = Market(mark.symbol, base, quote, True, None)
        return make_rate(
            exchange=VENUE,
            native_symbol=mark.symbol,
            listed_base=market.base,
            quote=market.quote,
            settle=market.quote,
            contract_type="linear",
            funding_rate=mark.rate,
            interval_hours=market.interval_hours,
            next_funding_time=mark.next_funding_time,
            observed_at=observed_at,
            mark_price=mark.mark_price,
            index_price=mark.index_price,
            listed=None if markets is None else mark.symbol in markets,
        )

    joined = parse_rows(VENUE, RATES, marks.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)
