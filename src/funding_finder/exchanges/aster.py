"""Aster perpetual futures (Binance-compatible API): premiumIndex + fundingInfo + exchangeInfo, joined.

API docs: https://github.com/asterdex/api-docs (`V1(Legacy)/EN/aster-finance-futures-api.md`: Mark
Price, Get Funding Rate Config, Exchange Information; limits also in the V3 document).

Paths: the public market endpoints exist under `/fapi/v1` and `/fapi/v3` with the same bodies and weight
1 each. The v1 paths are used: the only bulk recordings (one live capture, 2026-09-19) were taken there,
so the simulator replays real bytes at the path the adapter calls.
- `GET /fapi/v1/premiumIndex` (RATES, no symbol → array): `symbol`; `lastFundingRate` (string, fraction
  per interval of the *current* period, settling at `nextFundingTime`, epoch **ms**; 0 ⇒ unknown);
  `markPrice`, `indexPrice` (strings, quote currency). No open interest or volume: left None.
- `GET /fapi/v1/fundingInfo` (EXTRA): `symbol`, `fundingIntervalHours` (JSON number, **hours**) — the
  interval source (1, 2, 4 and 8 h seen). Aster documents no default for a symbol it does not list (the
  notes do not carry Binance's "absent ⇒ 8 h" over), so an absent symbol's interval is unknown; so is
  every interval when the call fails. `fundingFeeCap` / `fundingFeeFloor` (JSON numbers, fractions per
  interval, e.g. 0.02 / -0.02): the symbol's bounds on the rate; `rate_cap` is the larger |bound|, read
  apart from the interval (an unreadable or 0 bound is skipped and never costs the interval).
- `GET /fapi/v1/exchangeInfo` (INSTRUMENTS): `symbols[]` `status`, `contractType`, `baseAsset`,
  `quoteAsset`, `marginAsset`, `underlyingType`.
Filters: a listed symbol is kept only with `status == TRADING` and `contractType == PERPETUAL` (SETTLING,
PENDING_TRADING, CLOSE and `contractType ""` dropped); a missing status or type field is unknown: kept.
Aster does not document that absence from exchangeInfo means delisted, so a rate row missing from it is
kept, `unlisted` (MKRUSDT, APXUSDT were absent yet priced), read from its symbol: the longest known
quote suffix (USDT, USDC, USD1, USD) settles in the quote (`futuresType` U_MARGINED; unverified for the
USD-quoted GNSUSD, whose margin asset no recording shows). Asset class: `underlyingType` EQUITY,
COMMODITY, INDEX where sent (Aster documents only COIN; unverified), else crypto.
Errors: HTTP 4xx with `{"code": <negative>, "msg": …}` (429 with -1003 over the limit, 418 bans, 403
WAF), handled by the request path; should such an object arrive inside HTTP 200 it is an ExchangeError
(-1003 RateLimited). Limit: REQUEST_WEIGHT 2400 per minute per IP, `X-MBX-USED-WEIGHT-1M` on every answer.
History (`backfill`): `GET /fapi/v1/fundingRate?symbol=&startTime=&endTime=&limit=` (the recorded path;
`/fapi/v3/fundingRate` is the same API), Binance's rows and paging (`base.binance_history`: oldest first,
at most 1000 rows, forward by `startTime`), weight 1 in the same REQUEST_WEIGHT pool.
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
    binance_history,
    caps_by_symbol,
    error_body_envelope,
    field_of,
    parse_binance_history,
    parse_rows,
    parse_secondary,
    split_by_quote,
    text,
)
from funding_finder.model import (
    AssetClass,
    FundingRate,
    SettledFunding,
    from_ms,
    make_rate,
    number,
    optional_number,
)
from funding_finder.ratelimit import Limit

VENUE = "aster"
RATES, INTERVALS, INSTRUMENTS = "premiumIndex", "fundingInfo", "exchangeInfo"
HISTORY = "fundingRate"
RATE_LIMIT_CODE = -1003
CAP_FIELDS = ("fundingFeeCap", "fundingFeeFloor")
QUOTE_SUFFIXES = ("USDT", "USDC", "USD1", "USD")
"""Quotes seen on Aster, for reading a symbol absent from exchangeInfo (checked in this order)."""
UNDERLYING_ASSET_CLASS: dict[str, AssetClass] = {
    "EQUITY": "equity",
    "COMMODITY": "commodity",
    "INDEX": "index",
}


def _negative_code(code: Any) -> bool:
    return isinstance(code, int) and not isinstance(code, bool) and code < 0


check_envelope = error_body_envelope(
    "code", message_fields=("msg",), rate_limit_codes=(RATE_LIMIT_CODE,), is_error=_negative_code
)
"""A Binance-style error object (`code` < 0) inside HTTP 200 is an error; -1003 is the rate limit."""


SPEC = VenueSpec(
    id=VENUE,
    name="Aster",
    hosts={"api": "https://fapi.asterdex.com"},
    endpoints=(
        Endpoint(RATES, "/fapi/v1/premiumIndex", Role.RATES),
        Endpoint(INTERVALS, "/fapi/v1/fundingInfo", Role.EXTRA),
        Endpoint(INSTRUMENTS, "/fapi/v1/exchangeInfo", Role.INSTRUMENTS),
    ),
    # REQUEST_WEIGHT 2400 per 60 s per IP; each of the three calls weighs 1 (bulk premiumIndex too), and
    # so does the history's fundingRate.
    limits=(Limit("REQUEST_WEIGHT", 2400, 60.0, costs={RATES: 1, INTERVALS: 1, INSTRUMENTS: 1, HISTORY: 1}),),
    docs_url="https://github.com/asterdex/api-docs",
    check_envelope=check_envelope,
    workers=3,
    usage_headers={"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"},
    history=binance_history(VENUE, HISTORY, "/fapi/v1/fundingRate", workers=6),  # 40 calls a second
)


@dataclass(frozen=True)
class Premium:
    symbol: str
    rate: float
    next_funding_time: datetime | None
    mark_price: float | None
    index_price: float | None


@dataclass(frozen=True)
class Instrument:
    symbol: str
    base: str
    quote: str
    settle: str
    asset_class: AssetClass
    tradable: bool


def parse_premium_index(payload: Any) -> Parsed[Premium]:
    """The premiumIndex array; a non-list (one symbol's object, an error) is BadPayload."""
    if payload == []:
        raise EmptyPayload(VENUE, RATES, "no rows")

    def one(row: Any) -> Premium:
        next_ms = optional_number(row.get("nextFundingTime"))
        return Premium(
            text(row["symbol"]),
            number(row["lastFundingRate"]),
            from_ms(next_ms) if next_ms else None,
            optional_number(row.get("markPrice")),
            optional_number(row.get("indexPrice")),
        )

    return parse_rows(VENUE, RATES, payload, one)


def parse_funding_info(payload: Any) -> Parsed[tuple[str, float]]:
    """(symbol, fundingIntervalHours) per listed symbol; a row without a positive interval is malformed."""
    if payload == []:  # fundingInfo lists every symbol: an empty list is no information
        raise EmptyPayload(VENUE, INTERVALS, "no rows")

    def one(row: Any) -> tuple[str, float]:
        hours = number(row["fundingIntervalHours"])
        if hours <= 0:
            raise ValueError(f"interval {hours} h")
        return text(row["symbol"]), hours

    return parse_rows(VENUE, INTERVALS, payload, one)


def parse_exchange_info(payload: Any) -> Parsed[Instrument]:
    """Every listed symbol; `tradable` is False for a status other than TRADING or a type other than
    PERPETUAL (a missing field is unknown and does not make it untradable)."""

    def one(row: Any) -> Instrument:
        status, contract_type = row.get("status"), row.get("contractType")
        tradable = status in (None, "TRADING") and contract_type in (None, "PERPETUAL")
        return Instrument(
            text(row["symbol"]),
            text(row["baseAsset"]),
            text(row["quoteAsset"]),
            text(row["marginAsset"]),
            UNDERLYING_ASSET_CLASS.get(row.get("underlyingType") or "", "crypto"),
            tradable,
        )

    rows = field_of(VENUE, INSTRUMENTS, payload, "symbols")
    if rows == []:  # never a real list: it would unlist every contract
        raise EmptyPayload(VENUE, INSTRUMENTS, "no instruments")
    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    rates = parse_premium_index(payloads[RATES])
    unusable: set[str] = set()
    parsed_intervals = parse_secondary(payloads.get(INTERVALS), parse_funding_info, INTERVALS, unusable)
    parsed_instruments = parse_secondary(
        payloads.get(INSTRUMENTS), parse_exchange_info, INSTRUMENTS, unusable
    )
    intervals = {} if parsed_intervals is None else dict(parsed_intervals.items)
    caps = {} if parsed_intervals is None else caps_by_symbol(payloads[INTERVALS], *CAP_FIELDS)
    instruments = None if parsed_instruments is None else {i.symbol: i for i in parsed_instruments.items}
    bad_rows = rates.bad_rows + sum(p.bad_rows for p in (parsed_intervals, parsed_instruments) if p)

    def join(rate: Premium) -> FundingRate | None:
        instrument = None if instruments is None else instruments.get(rate.symbol)
        if instrument is not None and not instrument.tradable:
            return None  # settling, pending, closed or not a perpetual
        listed = None if instruments is None else instrument is not None
        if instrument is None:
            instrument = instrument_from_symbol(rate.symbol)
        return make_rate(
            exchange=VENUE,
            native_symbol=rate.symbol,
            listed_base=instrument.base,
            quote=instrument.quote,
            settle=instrument.settle,
            contract_type="linear",
            funding_rate=rate.rate,
            interval_hours=intervals.get(rate.symbol),  # absent ⇒ unknown: no documented default
            next_funding_time=rate.next_funding_time,
            observed_at=observed_at,
            mark_price=rate.mark_price,
            index_price=rate.index_price,
            asset_class=instrument.asset_class,
            listed=listed,
            rate_cap=caps.get(rate.symbol),
        )

    joined = parse_rows(VENUE, RATES, rates.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)


def instrument_from_symbol(symbol: str) -> Instrument:
    """`BTCUSDT` → BTC/USDT:USDT, `GNSUSD` → GNS/USD:USD (settled in the quote: U-margined futures)."""
    base, quote = split_by_quote(symbol, QUOTE_SUFFIXES)
    return Instrument(symbol, base, quote, quote, "crypto", True)


def parse_history(payload: Any, native_symbol: str) -> Parsed[SettledFunding]:
    """`/fapi/v1/fundingRate` rows, Binance's shape (`base.parse_binance_history`)."""
    return parse_binance_history(VENUE, HISTORY, payload, native_symbol)
