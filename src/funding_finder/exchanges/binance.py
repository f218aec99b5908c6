"""Binance USDⓈ-M futures: every perpetual's current funding from three public calls.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price
(premiumIndex), …/Get-Funding-Rate-Info (fundingInfo), …/Exchange-Information (exchangeInfo).

Units: `lastFundingRate` is a string fraction per interval — the *current* period's rate, settling at
`nextFundingTime` (int ms; 0 on delivery and settled rows). `markPrice` / `indexPrice` are strings in the
quote currency. premiumIndex carries no open interest, no volume and no next-period rate: left None.
Interval: fundingInfo `fundingIntervalHours` (int hours); Binance lists only adjusted symbols, so a
symbol absent from a fundingInfo that answered is 8 h (documented); no fundingInfo ⇒ interval unknown.
Filters: exchangeInfo `status == TRADING` and `contractType` PERPETUAL or TRADIFI_PERPETUAL; a rate symbol
absent from exchangeInfo is delisted and dropped; `nextFundingTime == 0` is dropped always.
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
    field_of,
    parse_rows,
    parse_secondary,
    text,
)
from funding_finder.model import AssetClass, FundingRate, from_ms, make_rate, number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "binance"
RATES, INTERVALS, INSTRUMENTS = "premiumIndex", "fundingInfo", "exchangeInfo"
DEFAULT_INTERVAL_HOURS = 8
KEPT_CONTRACT_TYPES = frozenset({"PERPETUAL", "TRADIFI_PERPETUAL"})
UNDERLYING_ASSET_CLASS: dict[str, AssetClass] = {
    "EQUITY": "equity",
    "KR_EQUITY": "equity",
    "PREMARKET": "equity",
    "COMMODITY": "commodity",
    "INDEX": "index",
}
"""`underlyingType` → asset class (COIN and unknown types are crypto). Mostly TRADIFI_PERPETUAL contracts;
PREMARKET = pre-IPO company shares (OPENAI, ANTHROPIC); BTCDOMUSDT is an INDEX perpetual."""
QUOTE_SUFFIXES = ("USDT", "USDC", "USD1", "BTC", "U")
"""Quotes seen in exchangeInfo, for reading a symbol when exchangeInfo is missing (longest match first)."""

SPEC = VenueSpec(
    id=VENUE,
    name="Binance USDⓈ-M",
    hosts={"api": "https://fapi.binance.com"},
    endpoints=(
        Endpoint(RATES, "/fapi/v1/premiumIndex", Role.RATES),
        Endpoint(INTERVALS, "/fapi/v1/fundingInfo", Role.EXTRA),
        Endpoint(INSTRUMENTS, "/fapi/v1/exchangeInfo", Role.INSTRUMENTS),
    ),
    limits=(
        Limit(
            "REQUEST_WEIGHT",
            2400,
            60.0,
            costs={"premiumIndex": 10, "fundingInfo": 0, "exchangeInfo": 1, "fundingRate": 1},
            default_cost=1,
        ),
        Limit(
            "fundingInfo+fundingRate", 500, 300.0, costs={"fundingInfo": 1, "fundingRate": 1}, default_cost=0
        ),
    ),
    docs_url="https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info",
    workers=3,
    usage_headers={"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"},
)


@dataclass(frozen=True)
class Premium:
    symbol: str
    rate: float
    next_funding_time: datetime
    mark_price: float | None
    index_price: float | None


@dataclass(frozen=True)
class Instrument:
    symbol: str
    base: str
    quote: str
    settle: str
    asset_class: AssetClass


def parse_premium_index(payload: Any) -> Parsed[Premium]:
    """premiumIndex rows; `nextFundingTime == 0` (delivery, settled) is dropped on purpose."""
    if payload == []:
        raise EmptyPayload(VENUE, RATES, "no rows")

    def one(row: Any) -> Premium | None:
        next_ms = number(row["nextFundingTime"])
        if next_ms == 0:
            return None
        return Premium(
            text(row["symbol"]),
            number(row["lastFundingRate"]),
            from_ms(next_ms),
            optional_number(row.get("markPrice")),
            optional_number(row.get("indexPrice")),
        )

    return parse_rows(VENUE, RATES, payload, one)


def parse_funding_info(payload: Any) -> Parsed[tuple[str, float]]:
    """(symbol, fundingIntervalHours) of the symbols whose funding parameters were adjusted."""

    def one(row: Any) -> tuple[str, float]:
        hours = number(row["fundingIntervalHours"])
        if hours <= 0:
            raise ValueError(f"interval {hours} h")
        return text(row["symbol"]), hours

    return parse_rows(VENUE, INTERVALS, payload, one)


def parse_exchange_info(payload: Any) -> Parsed[Instrument]:
    """The tradable perpetuals (TRADING, PERPETUAL or TRADIFI_PERPETUAL); every other symbol is dropped."""

    def one(row: Any) -> Instrument | None:
        contract_type = row["contractType"]
        if row["status"] != "TRADING" or contract_type not in KEPT_CONTRACT_TYPES:
            return None
        asset_class = UNDERLYING_ASSET_CLASS.get(row.get("underlyingType"), "crypto")
        return Instrument(
            text(row["symbol"]),
            text(row["baseAsset"]),
            text(row["quoteAsset"]),
            text(row["marginAsset"]),
            asset_class,
        )

    rows = field_of(VENUE, INSTRUMENTS, payload, "symbols")
    if rows == []:  # never a real list: it would drop every contract as delisted
        raise EmptyPayload(VENUE, INSTRUMENTS, "no instruments")
    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    rates = parse_premium_index(payloads[RATES])
    unusable: set[str] = set()
    parsed_intervals = parse_secondary(payloads.get(INTERVALS), parse_funding_info, INTERVALS, unusable)
    parsed_instruments = parse_secondary(
        payloads.get(INSTRUMENTS), parse_exchange_info, INSTRUMENTS, unusable
    )
    intervals = None if parsed_intervals is None else dict(parsed_intervals.items)
    instruments = None if parsed_instruments is None else {i.symbol: i for i in parsed_instruments.items}
    bad_rows = rates.bad_rows + sum(p.bad_rows for p in (parsed_intervals, parsed_instruments) if p)

    def join(rate: Premium) -> FundingRate | None:
        if instruments is None:
            instrument = _instrument_from_symbol(rate.symbol)
        else:
            instrument = instruments.get(rate.symbol)
            if instrument is None:  # delisted, settling, pending or dated: Binance documents the list
                return None
        interval = None if intervals is None else intervals.get(rate.symbol, DEFAULT_INTERVAL_HOURS)
        return make_rate(
            exchange=VENUE,
            native_symbol=rate.symbol,
            listed_base=instrument.base,
            quote=instrument.quote,
            settle=instrument.settle,
            contract_type="linear",
            funding_rate=rate.rate,
            interval_hours=interval,
            next_funding_time=rate.next_funding_time,
            observed_at=observed_at,
            mark_price=rate.mark_price,
            index_price=rate.index_price,
            asset_class=instrument.asset_class,
            listed=None if instruments is None else True,
        )

    joined = parse_rows(VENUE, RATES, rates.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)


def _instrument_from_symbol(symbol: str) -> Instrument:
    """`BTCUSDT` → BTC/USDT:USDT when exchangeInfo is missing (fapi is linear, settled in the quote)."""
    for quote in QUOTE_SUFFIXES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return Instrument(symbol, symbol[: -len(quote)], quote, quote, "crypto")
    raise ValueError(f"no known quote in {symbol!r}")
