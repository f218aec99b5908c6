"""Binance futures, two families: USDⓈ-M (fapi, linear) and COIN-M (dapi, inverse), three calls each.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price
(premiumIndex), …/Get-Funding-Rate-Info (fundingInfo), …/Exchange-Information (exchangeInfo); COIN-M the
same pages under https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/.

Endpoints: `https://fapi.binance.com/fapi/v1/{premiumIndex,fundingInfo,exchangeInfo}` and
`https://dapi.binance.com/dapi/v1/{premiumIndex,fundingInfo,exchangeInfo}` (host keys "api", "dapi").
Units: `lastFundingRate` is a string fraction per interval — the *current* period's rate, settling at
`nextFundingTime` (int ms; 0 on delivery and settled rows). `markPrice` / `indexPrice` are strings in the
quote currency (USD for COIN-M). premiumIndex carries no open interest, no volume and no next-period rate.
Interval: fundingInfo `fundingIntervalHours` (int hours) of the same family; Binance lists only adjusted
symbols, so a symbol absent from a fundingInfo that answered is 8 h (documented for USDⓈ-M; COIN-M is read
the same way, its docs page describing the same list); no fundingInfo ⇒ interval unknown.
Cap: fundingInfo `adjustedFundingRateCap` / `adjustedFundingRateFloor` (string fractions per interval)
of the same family; `rate_cap` is the larger |bound|. Read apart from the interval, so an unreadable
bound is skipped and never costs the symbol its interval; a symbol fundingInfo lacks has no known cap.
Filters: exchangeInfo `status` (dapi: `contractStatus`) == TRADING and `contractType` PERPETUAL (fapi also
TRADIFI_PERPETUAL); a rate symbol absent from exchangeInfo is delisted and dropped; `nextFundingTime == 0`
is dropped always (dapi delivery rows also send `lastFundingRate: ""`).
Symbols: `baseAsset/quoteAsset:marginAsset`; dapi `BTCUSD_PERP` → `BTC/USD:BTC`, contract_type inverse.
Limits: fapi REQUEST_WEIGHT 2400 / min (premiumIndex 10, exchangeInfo 1, fundingInfo and fundingRate 0)
plus the fapi fundingInfo + fundingRate pool of 500 / 5 min; dapi has its own REQUEST_WEIGHT 2400 / min
(dapi exchangeInfo.rateLimits; premiumIndex 10, exchangeInfo 1, fundingRate 1; dapi fundingInfo's weight
is not stated, charged 1 as the conservative reading). `X-MBX-USED-WEIGHT-1M` resyncs the fapi pool only
(a dapi answer's count can only book more, never less).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder.errors import BadPayload, EmptyPayload
from funding_finder.exchanges.base import (
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    binance_history,
    build_families,
    caps_by_symbol,
    field_of,
    parse_binance_history,
    parse_rows,
    parse_secondary,
    settle_and_type,
    split_by_quote,
    text,
)
from funding_finder.model import (
    AssetClass,
    ContractType,
    FundingRate,
    SettledFunding,
    from_ms,
    make_rate,
    number,
    optional_number,
)
from funding_finder.ratelimit import Limit

VENUE = "binance"
RATES, INTERVALS, INSTRUMENTS = "premiumIndex", "fundingInfo", "exchangeInfo"
DAPI_RATES, DAPI_INTERVALS, DAPI_INSTRUMENTS = "dapi-premiumIndex", "dapi-fundingInfo", "dapi-exchangeInfo"
HISTORY = "fundingRate"
DEFAULT_INTERVAL_HOURS = 8
UNDERLYING_ASSET_CLASS: dict[str, AssetClass] = {
    "EQUITY": "equity",
    "KR_EQUITY": "equity",
    "PREMARKET": "equity",
    "COMMODITY": "commodity",
    "INDEX": "index",
}
"""`underlyingType` → asset class (COIN and unknown types are crypto). Mostly TRADIFI_PERPETUAL contracts;
PREMARKET = pre-IPO company shares (OPENAI, ANTHROPIC); BTCDOMUSDT is an INDEX perpetual."""
CAP_FIELDS = ("adjustedFundingRateCap", "adjustedFundingRateFloor")
"""fundingInfo's bounds on the rate of an adjusted symbol (fractions per interval)."""
QUOTE_SUFFIXES = ("USDT", "USDC", "USD1", "BTC", "U")
"""Quotes seen in fapi exchangeInfo, for reading a symbol when exchangeInfo is missing (longest first)."""

SPEC = VenueSpec(
    id=VENUE,
    name="Binance futures (USDⓈ-M and COIN-M)",
    hosts={"api": "https://fapi.binance.com", "dapi": "https://dapi.binance.com"},
    endpoints=(
        Endpoint(RATES, "/fapi/v1/premiumIndex", Role.RATES),
        Endpoint(INTERVALS, "/fapi/v1/fundingInfo", Role.EXTRA),
        # every cycle: a symbol absent from exchangeInfo is delisted and dropped, so the list must be current
        Endpoint(INSTRUMENTS, "/fapi/v1/exchangeInfo", Role.INSTRUMENTS, max_age_s=0),
        Endpoint(DAPI_RATES, "/dapi/v1/premiumIndex", Role.RATES, host="dapi"),
        Endpoint(DAPI_INTERVALS, "/dapi/v1/fundingInfo", Role.EXTRA, host="dapi"),
        Endpoint(DAPI_INSTRUMENTS, "/dapi/v1/exchangeInfo", Role.INSTRUMENTS, host="dapi", max_age_s=0),
    ),
    limits=(
        Limit(
            "REQUEST_WEIGHT",
            2400,
            60.0,
            costs={"premiumIndex": 10, "fundingInfo": 0, "exchangeInfo": 1, "fundingRate": 0},
            default_cost=0,
        ),
        Limit(
            "fundingInfo+fundingRate", 500, 300.0, costs={"fundingInfo": 1, "fundingRate": 1}, default_cost=0
        ),
        Limit(
            "dapi REQUEST_WEIGHT",
            2400,
            60.0,
            costs={DAPI_RATES: 10, DAPI_INTERVALS: 1, DAPI_INSTRUMENTS: 1, "dapi-fundingRate": 1},
            default_cost=0,
        ),
    ),
    docs_url="https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info",
    workers=3,  # six small calls in two round trips
    usage_headers={"X-MBX-USED-WEIGHT-1M": "REQUEST_WEIGHT"},
    # fundingRate: 1000 rows a page, the documented maximum; 30 days at 8 h is one page of 90 rows.
    # dapi has its own history path, not used yet.
    history=binance_history(
        VENUE, HISTORY, "/fapi/v1/fundingRate", covers=lambda row: row.contract_type == "linear"
    ),
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


def _fapi_symbol(symbol: str) -> Instrument | None:
    """`BTCUSDT` → BTC/USDT:USDT when exchangeInfo is missing (fapi is linear, settled in the quote)."""
    base, quote = split_by_quote(symbol, QUOTE_SUFFIXES)
    return Instrument(symbol, base, quote, quote, "crypto")


def _dapi_symbol(symbol: str) -> Instrument | None:
    """`BTCUSD_PERP` → BTC/USD:BTC when dapi exchangeInfo is missing; a dated `BTCUSD_260925` is dropped."""
    pair, _, kind = symbol.partition("_")
    if kind != "PERP":
        return None
    base, quote = split_by_quote(pair, ("USD",))
    return Instrument(symbol, base, quote, settle_and_type(base, quote)[0], "crypto")


@dataclass(frozen=True)
class Family:
    """One product line: its three endpoints and what differs between fapi and dapi."""

    rates: str
    intervals: str
    instruments: str
    contract_type: ContractType
    status_field: str
    kept_types: frozenset[str]
    from_symbol: Callable[[str], Instrument | None]


FAMILIES = (
    Family(
        RATES,
        INTERVALS,
        INSTRUMENTS,
        "linear",
        "status",
        frozenset({"PERPETUAL", "TRADIFI_PERPETUAL"}),
        _fapi_symbol,
    ),
    Family(
        DAPI_RATES,
        DAPI_INTERVALS,
        DAPI_INSTRUMENTS,
        "inverse",
        "contractStatus",
        frozenset({"PERPETUAL"}),
        _dapi_symbol,
    ),
)


def parse_premium_index(payload: Any, endpoint: str = RATES) -> Parsed[Premium]:
    """premiumIndex rows; `nextFundingTime == 0` (delivery, settled) is dropped on purpose."""
    if payload == []:
        raise EmptyPayload(VENUE, endpoint, "no rows")

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

    return parse_rows(VENUE, endpoint, payload, one)


def parse_funding_info(payload: Any, endpoint: str = INTERVALS) -> Parsed[tuple[str, float]]:
    """(symbol, fundingIntervalHours) of the symbols whose funding parameters were adjusted."""

    def one(row: Any) -> tuple[str, float]:
        hours = number(row["fundingIntervalHours"])
        if hours <= 0:
            raise ValueError(f"interval {hours} h")
        return text(row["symbol"]), hours

    return parse_rows(VENUE, endpoint, payload, one)


def parse_exchange_info(payload: Any, family: Family = FAMILIES[0]) -> Parsed[Instrument]:
    """The family's tradable perpetuals (TRADING and a kept contractType); every other symbol is dropped."""

    def one(row: Any) -> Instrument | None:
        if row[family.status_field] != "TRADING" or row["contractType"] not in family.kept_types:
            return None
        return Instrument(
            text(row["symbol"]),
            text(row["baseAsset"]),
            text(row["quoteAsset"]),
            text(row["marginAsset"]),
            UNDERLYING_ASSET_CLASS.get(row.get("underlyingType"), "crypto"),
        )

    rows = field_of(VENUE, family.instruments, payload, "symbols")
    if rows == []:  # never a real list: it would drop every contract as delisted
        raise EmptyPayload(VENUE, family.instruments, "no instruments")
    return parse_rows(VENUE, family.instruments, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    """The rows of every family whose premiumIndex answered; a failed (None), wrong-shaped or empty
    family costs only itself (`base.build_families`)."""
    return build_families(
        payloads,
        {family.rates: family for family in FAMILIES},
        lambda family, rates: _build_family(family, rates, payloads, observed_at),
        BadPayload(VENUE, RATES, "no premiumIndex payload of any family"),
    )


def _build_family(
    family: Family, rates_payload: Any, payloads: Mapping[str, Any | None], observed_at: datetime
) -> BuildResult:
    result = BuildResult([])
    rates = parse_premium_index(rates_payload, family.rates)
    parsed_intervals = parse_secondary(
        payloads.get(family.intervals),
        lambda p: parse_funding_info(p, family.intervals),
        family.intervals,
        result.unusable,
    )
    parsed_instruments = parse_secondary(
        payloads.get(family.instruments),
        lambda p: parse_exchange_info(p, family),
        family.instruments,
        result.unusable,
    )
    intervals = None if parsed_intervals is None else dict(parsed_intervals.items)
    caps = {} if parsed_intervals is None else caps_by_symbol(payloads[family.intervals], *CAP_FIELDS)
    instruments = None if parsed_instruments is None else {i.symbol: i for i in parsed_instruments.items}
    result.bad_rows += rates.bad_rows + sum(p.bad_rows for p in (parsed_intervals, parsed_instruments) if p)

    def join(rate: Premium) -> FundingRate | None:
        # Absent from an answered list: delisted, settling, pending or dated (Binance documents the list).
        instrument = family.from_symbol(rate.symbol) if instruments is None else instruments.get(rate.symbol)
        if instrument is None:
            return None
        interval = None if intervals is None else intervals.get(rate.symbol, DEFAULT_INTERVAL_HOURS)
        return make_rate(
            exchange=VENUE,
            native_symbol=rate.symbol,
            listed_base=instrument.base,
            quote=instrument.quote,
            settle=instrument.settle,
            contract_type=family.contract_type,
            funding_rate=rate.rate,
            interval_hours=interval,
            next_funding_time=rate.next_funding_time,
            observed_at=observed_at,
            mark_price=rate.mark_price,
            index_price=rate.index_price,
            asset_class=instrument.asset_class,
            listed=None if instruments is None else True,
            rate_cap=caps.get(rate.symbol),
        )

    joined = parse_rows(VENUE, family.rates, rates.items, join)
    result.rows += joined.items
    result.bad_rows += joined.bad_rows
    return result


def parse_history(payload: Any, native_symbol: str) -> Parsed[SettledFunding]:
    """`/fapi/v1/fundingRate` rows (`base.parse_binance_history`): `fundingTime` int ms, `fundingRate` the
    rate paid then, `markPrice`; rows of another symbol are dropped."""
    return parse_binance_history(VENUE, HISTORY, payload, native_symbol)
