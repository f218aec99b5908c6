"""CoinEx perpetual futures (API v2): every market's funding in one `GET /v2/futures/funding-rate`.

API docs: https://docs.coinex.com/api/v2/futures/market/http/list-market-funding-rate (host
`https://api.coinex.com`; no `market` parameter ⇒ every market). Envelope `{"code": 0, "data": [...],
"message": "OK"}`; `code != 0` inside HTTP 200 is an error (ExchangeError), codes 213 / 4123 / 4213 are
CoinEx's rate limits (RateLimited).

**CoinEx has ceased.** It announced an orderly cessation of its perpetual futures on 2026-09-22; the API
kept answering afterwards with index, mark and funding frozen. Such rows are not market data. This module
only maps what the venue answers; telling a venue whose data stopped moving (frozen timestamps across
cycles, settlement times in the past) is done outside the adapter, and make_rate flags each row whose
settlement is not after `observed_at` as `stale`.

Fields used (rates are strings, fractions per interval; times epoch **ms**):
- `latest_funding_rate` — the **current** period's rate, settling at `latest_funding_time` (the upcoming
  settlement, despite the name) → `funding_rate`, `next_funding_time`;
- `next_funding_rate` — the period *after* it, settling at `next_funding_time` → `predicted_rate`;
- interval = `next_funding_time − latest_funding_time` in hours (ccxt sees 1/4/8/16/24 h); unknown when
  either time is missing or the difference is not positive;
- `mark_price` (quote currency). No index price, open interest or volume on this call: left None;
- `max_funding_rate` / `min_funding_rate` (strings, fractions per interval): the market's bounds on the
  rate; `rate_cap` is the larger |bound| (absent, unreadable or 0 ⇒ skipped, never costing the row).
A literal `"0"` current rate can be CoinEx's not-yet-computed placeholder (the recording shows one,
ccxt/ccxt#22497); it is the venue's own value and is kept as 0.0 — nothing else could be put in its place.

Symbols: the market list `/v2/futures/market` (its `contract_type`) is optional in the notes and was never
recorded, so it is not called; the type is read from the market name: `…USDT` / `…USDC` → linear, settled
in the quote (`BTCUSDT` → `BTC/USDT:USDT`); `…USD` → inverse, settled in the base (`BTCUSD` →
`BTC/USD:BTC`). No status field exists on this call, so no row is filtered.
Limits: 400 requests per second per IP across endpoints, a public call costs 1.
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
    hours_between,
    parse_rows,
    rate_cap,
    settle_and_type,
    split_by_quote,
    text,
)
from funding_finder.model import ContractType, FundingRate, from_ms, make_rate, number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "coinex"
RATES = "funding-rate"
RATE_LIMIT_CODES = (213, 4123, 4213)
"""Rate-limit codes (4213: the IP's token bucket is exhausted)."""
QUOTES = ("USDT", "USDC", "USD")
"""Quote suffixes of CoinEx market names; USD is the coin-margined (inverse) one."""

check_envelope = code_envelope("code", (0,), message_fields=("message",), rate_limit_codes=RATE_LIMIT_CODES)

SPEC = VenueSpec(
    id=VENUE,
    name="CoinEx",
    hosts={"api": "https://api.coinex.com"},
    endpoints=(Endpoint(RATES, "/v2/futures/funding-rate", Role.RATES),),
    limits=(Limit("ip", 400, 1.0),),
    docs_url="https://docs.coinex.com/api/v2/futures/market/http/list-market-funding-rate",
    check_envelope=check_envelope,
    workers=1,
)


@dataclass(frozen=True)
class Rate:
    market: str
    base: str
    quote: str
    settle: str
    contract_type: ContractType
    rate: float
    settlement: datetime | None
    interval_hours: float | None
    predicted_rate: float | None
    mark_price: float | None
    rate_cap: float | None


def split_market(market: str) -> tuple[str, str, str, ContractType]:
    """`BTCUSDT` → (BTC, USDT, USDT, linear); `BTCUSD` → (BTC, USD, BTC, inverse)."""
    base, quote = split_by_quote(market, QUOTES)
    return base, quote, *settle_and_type(base, quote)


def _rate(row: Any) -> Rate:
    market = text(row["market"])
    settlement_ms = optional_number(row.get("latest_funding_time")) or None  # 0 means none
    after_ms = optional_number(row.get("next_funding_time")) or None
    return Rate(
        market,
        *split_market(market),
        number(row["latest_funding_rate"]),
        from_ms(settlement_ms) if settlement_ms else None,
        hours_between(settlement_ms, after_ms),
        optional_number(row.get("next_funding_rate")),
        optional_number(row.get("mark_price")),
        rate_cap(row.get("max_funding_rate"), row.get("min_funding_rate")),
    )


def parse_funding_rate(payload: Any) -> Parsed[Rate]:
    """Every market's current rate; `data` not a list is BadPayload, an empty list EmptyPayload."""
    data = field_of(VENUE, RATES, payload, "data")
    if data == []:
        raise EmptyPayload(VENUE, RATES, "no rows")
    return parse_rows(VENUE, RATES, data, _rate)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    rates = parse_funding_rate(payloads[RATES])

    def row(rate: Rate) -> FundingRate:
        return make_rate(
            exchange=VENUE,
            native_symbol=rate.market,
            listed_base=rate.base,
            quote=rate.quote,
            settle=rate.settle,
            contract_type=rate.contract_type,
            funding_rate=rate.rate,
            interval_hours=rate.interval_hours,
            next_funding_time=rate.settlement,
            observed_at=observed_at,
            predicted_rate=rate.predicted_rate,
            mark_price=rate.mark_price,
            rate_cap=rate.rate_cap,
        )

    joined = parse_rows(VENUE, RATES, rates.items, row)
    return BuildResult(joined.items, rates.bad_rows + joined.bad_rows)
