"""WOO X USDT-margined perpetuals (REST v3): the bulk funding-rate list joined to the bulk futures list.

API docs: https://developer.woox.io/api-reference/endpoint/public_data/fundingRate and
https://developer.woox.io/api-reference/endpoint/public_data/futures (host `https://api.woox.io`).
Envelope `{"success": true, "data": {"rows": [...]}, "timestamp": ms}` on both calls.

- `GET /v3/public/fundingRate` without `symbol` (RATES): one row per perpetual.
  `estFundingRate` (string, fraction per interval) is the **current** period's rate, settling at
  `nextFundingTime` (epoch **ms**); `estFundingIntervalHours` (integer **hours**) is that period's
  interval — the interval source, same row. `lastFundingRate` / `lastFundingRateTimestamp` /
  `lastFundingIntervalHours` describe the period already settled: never used for the current rate (they
  differ from the `est*` values while WOO changes a symbol's interval). No next-period rate is published,
  so `predicted_rate` is None.
- `GET /v3/public/futures` without `symbol` (EXTRA, joined by `symbol`): `markPrice`, `indexPrice` (strings,
  USDT; `indexPrice` can be null), `openInterest` (**base** units; × mark = USDT), `24hAmount` (24 h
  turnover in the quote currency). It is enrichment, not an instrument list: it carries no status, and
  the collector would replay a stored *instrument* list, i.e. stale prices. A failed or wrong-shaped
  futures call leaves prices, open interest and volume null; a rate row missing from it keeps nulls.

Symbols: `PERP_BTC_USDT` → `BTC/USDT:USDT`, linear, settled in the quote. Filter: `PERP_` rows only
(other prefixes, e.g. `SPOT_`, are dropped on purpose). Neither call carries a trading status (that is on
`/v3/public/instruments`, not in the documented cycle), so no status filter: every perpetual is kept, and a
row whose `nextFundingTime` is past is flagged `stale` by make_rate, not dropped.

Limits: 10 requests per second per IP for *each* v3 public endpoint; over it HTTP 429 with
`{"code": -1003, ...}` (ccxt's error map). Errors: `success: false` inside HTTP 200 is an ExchangeError
(unverified by a recording; error bodies observed with 4xx/5xx have that shape), code -1003 RateLimited.
History (`backfill`): `GET /v3/public/fundingRateHistory?symbol=&startTime=&endTime=&size=` (epoch ms):
rows `symbol`, `fundingRate` (string fraction per interval, settled), `fundingRateTimestamp` (ms),
`nextFundingTime`, `markPrice` (string); newest first, `size` rows a page (25, the documented default;
the maximum is not documented), so it pages backward by `endTime` rather than by `page` number. Its own
10 per s window (per endpoint).
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
    HistorySpec,
    Parsed,
    Role,
    VenueSpec,
    code_envelope,
    field_of,
    interval_hours,
    parse_rows,
    parse_secondary,
    product,
    text,
)
from funding_finder.model import (
    FundingRate,
    SettledFunding,
    from_ms,
    make_rate,
    number,
    optional_number,
    settled,
    usd_value,
)
from funding_finder.ratelimit import Limit

VENUE = "woox"
RATES, FUTURES = "fundingRate", "futures"
HISTORY = "fundingRateHistory"
RATE_LIMIT_CODES = frozenset({"-1003"})
"""WOO's `code` for "Rate limit exceed." (compared as text)."""


check_envelope = code_envelope(
    "success",
    (True,),
    message_fields=("message",),
    rate_limit_codes=RATE_LIMIT_CODES,
    require_object=True,
    error_code_fields=("code",),
)
"""`success` must be true; code -1003 is WOO's rate limit, any other failure an ExchangeError."""


SPEC = VenueSpec(
    id=VENUE,
    name="WOO X",
    hosts={"api": "https://api.woox.io"},
    endpoints=(
        Endpoint(RATES, "/v3/public/fundingRate", Role.RATES),
        Endpoint(FUTURES, "/v3/public/futures", Role.EXTRA),
    ),
    # "10 requests per 1 second per IP address" on each public v3 endpoint: one window per endpoint.
    limits=(Limit("public-v3", 10, 1.0, scope="endpoint"),),
    docs_url="https://developer.woox.io/api-reference/endpoint/public_data/fundingRate",
    check_envelope=check_envelope,
    workers=2,
    history=HistorySpec(
        Endpoint(HISTORY, "/v3/public/fundingRateHistory", Role.RATES),
        page_rows=25,
        params=lambda symbol, start_ms, end_ms, rows: {
            "symbol": symbol,
            "startTime": start_ms,
            "endTime": end_ms,
            "size": rows,
        },
        parse=lambda payload, symbol: parse_history(payload, symbol),
        paging="backward",
    ),
)


@dataclass(frozen=True)
class Rate:
    symbol: str
    base: str
    quote: str
    rate: float
    next_funding_time: datetime | None
    interval_hours: float | None


@dataclass(frozen=True)
class Futures:
    symbol: str
    mark_price: float | None
    index_price: float | None
    open_interest_base: float | None
    amount_24h_quote: float | None


def split_symbol(symbol: str) -> tuple[str, str] | None:
    """`PERP_BTC_USDT` → (`BTC`, `USDT`); None for a non-perpetual (`SPOT_BTC_USDT`)."""
    kind, _, rest = symbol.partition("_")
    if kind != "PERP":
        return None
    base, _, quote = rest.partition("_")
    if not base or not quote or "_" in quote:
        raise ValueError(f"bad perpetual symbol {symbol!r}")
    return base, quote


def _rows(payload: Any, endpoint: str) -> Any:
    return field_of(VENUE, endpoint, payload, "data", "rows")


def parse_funding_rate(payload: Any) -> Parsed[Rate]:
    """The perpetuals' current rates; non-`PERP_` rows are dropped on purpose."""
    rows = _rows(payload, RATES)
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no rows")

    def one(row: Any) -> Rate | None:
        symbol = text(row["symbol"])
        parts = split_symbol(symbol)
        if parts is None:
            return None
        next_ms = optional_number(row.get("nextFundingTime"))
        return Rate(
            symbol,
            *parts,
            number(row["estFundingRate"]),
            from_ms(next_ms) if next_ms else None,
            interval_hours(row.get("estFundingIntervalHours"), S_PER_HOUR, strict=True),
        )

    return parse_rows(VENUE, RATES, rows, one)


def parse_futures(payload: Any) -> Parsed[Futures]:
    """Prices, open interest and turnover per symbol (a wrong shape is BadPayload, no rows EmptyPayload)."""
    rows = _rows(payload, FUTURES)
    if rows == []:
        raise EmptyPayload(VENUE, FUTURES, "no rows")

    def one(row: Any) -> Futures:
        return Futures(
            text(row["symbol"]),
            optional_number(row.get("markPrice")),
            optional_number(row.get("indexPrice")),
            optional_number(row.get("openInterest")),
            optional_number(row.get("24hAmount")),
        )

    return parse_rows(VENUE, FUTURES, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    rates = parse_funding_rate(payloads[RATES])
    unusable: set[str] = set()
    parsed_futures = parse_secondary(payloads.get(FUTURES), parse_futures, FUTURES, unusable)
    futures = {} if parsed_futures is None else {f.symbol: f for f in parsed_futures.items}
    bad_rows = rates.bad_rows + (parsed_futures.bad_rows if parsed_futures else 0)

    def join(rate: Rate) -> FundingRate:
        info = futures.get(rate.symbol)
        mark = info.mark_price if info else None
        return make_rate(
            exchange=VENUE,
            native_symbol=rate.symbol,
            listed_base=rate.base,
            quote=rate.quote,
            settle=rate.quote,
            contract_type="linear",
            funding_rate=rate.rate,
            interval_hours=rate.interval_hours,
            next_funding_time=rate.next_funding_time,
            observed_at=observed_at,
            mark_price=mark,
            index_price=info.index_price if info else None,
            open_interest_usd=usd_value(product(info.open_interest_base if info else None, mark), rate.quote),
            volume_24h_usd=usd_value(info.amount_24h_quote if info else None, rate.quote),
        )

    joined = parse_rows(VENUE, RATES, rates.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)


def parse_history(payload: Any, symbol: str) -> Parsed[SettledFunding]:
    """`fundingRateHistory` rows of `symbol`: `fundingRateTimestamp` (ms), `fundingRate` (string fraction
    per interval, settled), `markPrice`; rows of another symbol are dropped."""

    def one(row: Any) -> SettledFunding | None:
        if text(row["symbol"]) != symbol:
            return None
        return settled(VENUE, symbol, row["fundingRateTimestamp"], row["fundingRate"], row.get("markPrice"))

    return parse_rows(VENUE, HISTORY, field_of(VENUE, HISTORY, payload, "data", "rows"), one)
