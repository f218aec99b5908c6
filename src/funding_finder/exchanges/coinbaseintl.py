"""Coinbase International Exchange (INTX): every perpetual's funding in one `GET /api/v1/instruments`.

API docs: https://docs.cdp.coinbase.com/international-exchange/concepts/instruments (list instruments)
and https://docs.cdp.coinbase.com/international-exchange/introduction/rate-limits-overview.

A bare JSON array of every instrument (SPOT and PERP), all values strings, each with an embedded `quote`:
- `symbol` `BTC-PERP`, `base_asset_name` / `quote_asset_name` (`BTC` / `USDC`) → `BTC/USDC:USDC`, linear
  (perpetuals are quoted in and collateralised by USDC, so settle = quote);
- `quote.predicted_funding`: fraction **per hour** for the current hourly period (A3);
- `funding_interval`: interval in **nanoseconds** as a digit string (`"3600000000000"` = 1 h), parsed as an
  integer — the interval source, same row. The rate per interval is hourly × interval hours (equal for
  the 1 h every recorded instrument has). No `funding_interval` ⇒ interval unknown, rate kept hourly;
- `quote.mark_price`, `quote.index_price` (USDC); `open_interest` in base units × mark = open interest
  in USDC; `notional_24hr` = the venue's own 24 h volume in USDC;
- `quote.timestamp`: ISO-8601 with ms (`2024-03-07T16:58:05.231Z`), parsed (a malformed one costs the row)
  but never used as our clock (handbook A5).
Settlement: not in the response. INTX funds hourly, so for a 1 h interval it is the next full UTC hour
after the local `observed_at` (derived, the handbook's reading; alignment unverified); else None.

Filters (the venue's own fields only): `type` other than `PERP` (SPOT) and `trading_state` other than
`TRADING` are dropped; a row missing either field is kept. Errors: 4xx with `{"message": …}`; no error
inside HTTP 200 is documented, but such an object is caught (rate-limit wording ⇒ RateLimited).
"""

from __future__ import annotations

import math
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
    parse_rows,
    product,
    text,
)
from funding_finder.model import make_rate, next_full_hour, number, optional_number, usd_value
from funding_finder.ratelimit import Limit

VENUE = "coinbaseintl"
RATES = "instruments"
NS_PER_HOUR = 3_600_000_000_000
RATE_LIMIT_MESSAGE = "rate limit exceeded"


check_envelope = error_body_envelope("message", message_fields=(), rate_limit_phrases=(RATE_LIMIT_MESSAGE,))
"""A `{"message": …}` object instead of the instrument array is an error (rate limit by its text)."""


SPEC = VenueSpec(
    id=VENUE,
    name="Coinbase International",
    hosts={"api": "https://api.international.coinbase.com"},
    endpoints=(Endpoint(RATES, "/api/v1/instruments", Role.RATES),),
    # Published: 40 REST requests per second per API key. The per-IP figure for unauthenticated calls
    # is undocumented; 10 requests per second per IP (ccxt's pace) is declared, the stricter of the two.
    limits=(Limit("rest", 10, 1.0),),
    docs_url="https://docs.cdp.coinbase.com/international-exchange/concepts/instruments",
    check_envelope=check_envelope,
    workers=1,
)


@dataclass(frozen=True)
class Perp:
    symbol: str
    base: str
    quote: str
    funding_rate: float
    interval_hours: float | None
    mark_price: float | None
    index_price: float | None
    open_interest_base: float | None
    volume_24h_quote: float | None
    quoted_at: datetime | None
    """`quote.timestamp`: the venue's stamp of the quote, kept for diagnosis only."""


def interval_hours_of(nanoseconds: Any) -> float | None:
    """`"3600000000000"` (ns, digit string or integer) → 1.0 h; None or "" → None; else ValueError."""
    if nanoseconds is None or nanoseconds == "":
        return None
    digits = isinstance(nanoseconds, str) and nanoseconds.isascii() and nanoseconds.isdigit()
    if not digits and (isinstance(nanoseconds, bool) or not isinstance(nanoseconds, int)):
        raise ValueError(f"funding_interval is not an integer: {nanoseconds!r}")
    value = int(nanoseconds)  # never float: "3600000000000" stays exact
    if value <= 0:
        raise ValueError(f"funding_interval {nanoseconds!r}")
    return value / NS_PER_HOUR


def iso_time(value: Any) -> datetime | None:
    """`2024-03-07T16:58:05.231Z` → aware UTC datetime; None when absent; ValueError when not ISO-8601."""
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(text(value))
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {value!r}")
    return moment


def _perp(row: Any) -> Perp | None:
    if row.get("type") not in (None, "PERP") or row.get("trading_state") not in (None, "TRADING"):
        return None  # SPOT, or not trading now (a missing field is unknown: kept)
    quote = row["quote"]
    interval = interval_hours_of(row.get("funding_interval"))
    hourly = number(quote["predicted_funding"])
    rate = hourly * interval if interval else hourly
    if not math.isfinite(rate):
        raise ValueError(f"rate {hourly!r} per hour over {interval} h")
    return Perp(
        symbol=text(row["symbol"]),
        base=text(row["base_asset_name"]),
        quote=text(row["quote_asset_name"]),
        funding_rate=rate,
        interval_hours=interval,
        mark_price=optional_number(quote.get("mark_price")),
        index_price=optional_number(quote.get("index_price")),
        open_interest_base=optional_number(row.get("open_interest")),
        volume_24h_quote=optional_number(row.get("notional_24hr")),
        quoted_at=iso_time(quote.get("timestamp")),
    )


def parse_instruments(payload: Any) -> Parsed[Perp]:
    """The tradable perpetuals of the instrument array; a non-list is BadPayload, `[]` EmptyPayload."""
    parsed = parse_rows(VENUE, RATES, payload, _perp)
    if not payload:
        raise EmptyPayload(VENUE, RATES, "no instruments")
    return parsed


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    parsed = parse_instruments(payloads[RATES])
    settles_at = next_full_hour(observed_at)
    rows = []
    for perp in parsed.items:
        open_interest = product(perp.open_interest_base, perp.mark_price)
        rows.append(
            make_rate(
                exchange=VENUE,
                native_symbol=perp.symbol,
                listed_base=perp.base,
                quote=perp.quote,
                settle=perp.quote,
                contract_type="linear",
                funding_rate=perp.funding_rate,
                interval_hours=perp.interval_hours,
                next_funding_time=settles_at if perp.interval_hours == 1 else None,
                observed_at=observed_at,
                mark_price=perp.mark_price,
                index_price=perp.index_price,
                open_interest_usd=usd_value(open_interest, perp.quote),
                volume_24h_usd=usd_value(perp.volume_24h_quote, perp.quote),
            )
        )
    return BuildResult(rows, bad_rows=parsed.bad_rows)
