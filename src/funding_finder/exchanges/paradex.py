"""Paradex perpetuals: every market's summary in one `market=ALL` call, joined to the market list.

API docs: https://docs.paradex.trade/api/prod/markets/get-markets-summary and
https://docs.paradex.trade/api/prod/markets/get-markets (both answer `{"results": […]}`, no code field).

Fields used (strings):
- summary `symbol` (`BTC-USD-PERP`); `funding_rate`: fraction per funding period of the market (Paradex
  recomputes it every second; `""` on option rows); `mark_price`, `underlying_price` (index), in USD;
  `open_interest` in base units (contract size 1) × mark = USD; `volume_24h`: 24 h volume in USD.
- markets `asset_kind` (`PERP`; options are `PERP_OPTION` / `OPTION`), `base_currency`,
  `quote_currency`, `settlement_currency`, `funding_period_hours` (hours; 0 means none, as on options).

Interval: markets `funding_period_hours` (8 h for most, one market 24 h). Absent (the 2024 recording
predates the field), 0, or no market list ⇒ unknown. Settlement: none — funding accrues continuously,
so `next_funding_time` is None (never invented). No next-period rate: predicted_rate None.
Filters (venue fields only): markets `asset_kind` other than `PERP` (options) are dropped; a market
without `asset_kind` is kept. A summary row no market row describes (no list: `unfiltered`; missing
from it: `unlisted`) is dropped when its `funding_rate` is `""` (the documented option shape), else
kept and read from its id `BASE-QUOTE-PERP` (settled in USDC, Paradex's one collateral); an id of any
other form cannot be read as a perpetual and costs that row as malformed.
Symbols: from markets (`base_currency/quote_currency:settlement_currency`): `BTC-USD-PERP` →
`BTC/USD:USDC`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder.errors import EmptyPayload
from funding_finder.exchanges.base import (
    S_PER_HOUR,
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    error_body_envelope,
    field_of,
    interval_hours,
    parse_rows,
    parse_secondary,
    product,
    text,
)
from funding_finder.model import FundingRate, make_rate, optional_number, usd_value
from funding_finder.ratelimit import Limit

VENUE = "paradex"
RATES, INSTRUMENTS = "markets-summary", "markets"
PERPETUAL = "PERP"
SETTLE = "USDC"
"""Paradex's collateral: every market settles in USDC (used only when the market list is missing)."""


check_envelope = error_body_envelope("error", message_fields=("message",))
"""Paradex errors are `{"error": "<CODE>", "message": …}` (documented on 4xx); no success code exists, so
the same object inside an HTTP 200 is an ExchangeError and anything else is left to the parser."""


SPEC = VenueSpec(
    id=VENUE,
    name="Paradex",
    hosts={"api": "https://api.prod.paradex.trade"},
    endpoints=(
        Endpoint(RATES, "/v1/markets/summary", Role.RATES, params={"market": "ALL"}),
        Endpoint(INSTRUMENTS, "/v1/markets", Role.INSTRUMENTS),
    ),
    # Public endpoints: 1500 requests per minute per IP, a token bucket refilled continuously
    # (https://docs.paradex.trade/api/general-information/rate-limits/api); a sliding 60 s window of
    # 1500 is never more permissive than that bucket.
    limits=(Limit("public", 1500, 60.0),),
    docs_url="https://docs.paradex.trade/api/prod/markets/get-markets-summary",
    check_envelope=check_envelope,
    workers=2,
)


@dataclass(frozen=True)
class Summary:
    symbol: str
    rate: float | None
    """Fraction per funding period; None for `""` (an option row, which has no funding)."""
    mark_price: float | None
    index_price: float | None
    open_interest_base: float | None
    volume_24h_usd: float | None


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    quote: str
    settle: str
    perpetual: bool
    interval_hours: float | None


def parse_markets_summary(payload: Any) -> Parsed[Summary]:
    """Every summary row (perpetuals and options alike: the filter needs the market list)."""
    rows = field_of(VENUE, RATES, payload, "results")
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no markets")

    def one(row: Any) -> Summary:
        return Summary(
            text(row["symbol"]),
            optional_number(row.get("funding_rate")),
            optional_number(row.get("mark_price")),
            optional_number(row.get("underlying_price")),
            optional_number(row.get("open_interest")),
            optional_number(row.get("volume_24h")),
        )

    return parse_rows(VENUE, RATES, rows, one)


def parse_markets(payload: Any) -> Parsed[Market]:
    """Every listed market; `perpetual` is False for options (`asset_kind` PERP_OPTION, OPTION, …)."""
    rows = field_of(VENUE, INSTRUMENTS, payload, "results")
    if rows == []:  # never a real list: it would unlist every market
        raise EmptyPayload(VENUE, INSTRUMENTS, "no markets")

    def one(row: Any) -> Market:
        kind = row.get("asset_kind")  # absent: unknown, so kept
        return Market(
            text(row["symbol"]),
            text(row["base_currency"]),
            text(row["quote_currency"]),
            text(row["settlement_currency"]),
            kind is None or kind == PERPETUAL,
            _period_hours(row.get("funding_period_hours")),
        )

    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    summaries = parse_markets_summary(payloads[RATES])
    unusable: set[str] = set()
    parsed_markets = parse_secondary(payloads.get(INSTRUMENTS), parse_markets, INSTRUMENTS, unusable)
    markets = None if parsed_markets is None else {m.symbol: m for m in parsed_markets.items}
    bad_rows = summaries.bad_rows + (parsed_markets.bad_rows if parsed_markets else 0)

    def join(summary: Summary) -> FundingRate | None:
        market = None if markets is None else markets.get(summary.symbol)
        if market is not None and not market.perpetual:
            return None  # an option
        if summary.rate is None:
            if market is not None:
                raise ValueError(f"perpetual {summary.symbol} without funding_rate")
            return None  # "" is the funding of an option row, and no list says otherwise
        if market is None:
            market = _market_from_symbol(summary.symbol)
        open_interest = product(summary.open_interest_base, summary.mark_price)
        return make_rate(
            exchange=VENUE,
            native_symbol=summary.symbol,
            listed_base=market.base,
            quote=market.quote,
            settle=market.settle,
            contract_type="linear",
            funding_rate=summary.rate,
            interval_hours=market.interval_hours,
            next_funding_time=None,  # continuous funding: no settlement time exists
            observed_at=observed_at,
            mark_price=summary.mark_price,
            index_price=summary.index_price,
            open_interest_usd=usd_value(open_interest, market.quote),
            volume_24h_usd=usd_value(summary.volume_24h_usd, market.quote),
            listed=None if markets is None else summary.symbol in markets,
        )

    joined = parse_rows(VENUE, RATES, summaries.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)


def _period_hours(value: Any) -> float | None:
    """`funding_period_hours` ("8", 8, "24"); 0 (options) and absent mean no known interval, a negative
    one is malformed."""
    return None if optional_number(value) == 0 else interval_hours(value, S_PER_HOUR, strict=True)


def _market_from_symbol(symbol: str) -> Market:
    """`BTC-USD-PERP` → BTC/USD:USDC when the market list lacks it; other ids are not perpetuals."""
    parts = symbol.split("-")
    if len(parts) != 3 or parts[2] != PERPETUAL or not parts[0] or not parts[1]:
        raise ValueError(f"not a perpetual id: {symbol!r}")
    return Market(symbol, parts[0], parts[1], SETTLE, True, None)
