"""Bitget v2 mix (futures): per product type, every symbol's current funding in one bulk call, joined to
that product type's tickers (prices, size) and contract list (status, coins, `isRwa`).

API docs: https://www.bitget.com/api-doc/contract/market/Get-Current-Funding-Rate (`symbol` optional),
…/Get-All-Symbol-Ticker, …/Get-All-Symbols-Contracts. Envelope `{"code":"00000","msg":"success",
"requestTime":ms,"data":[…]}`; any other `code` (with `data: null`) is an error inside HTTP 200.

Calls, for each product type (`USDT-FUTURES`, `USDC-FUTURES`, and `COIN-FUTURES`: inverse, settled in
the base coin): `GET /api/v2/mix/market/current-fund-rate`, `…/tickers`, `…/contracts`, each with
`productType`. Each product type is its own rate family: one that fails costs only its own rows.
Fields used (all strings):
- current-fund-rate: `fundingRate` (fraction per interval of the current period), `fundingRateInterval`
  (**hours**: 1/2/4/8) — the interval source, same row as the rate —, `nextUpdate` (ms, the settlement),
  `maxFundingRate` / `minFundingRate` (the symbol's cap and floor, fractions);
- contracts: `baseCoin`, `quoteCoin`, `symbolType` (`perpetual` kept; `delivery` dropped), `symbolStatus`
  (`normal` kept; every other value dropped — the notes list no others as verified), `fundInterval`
  (hours; the interval when the rate row has none), `isRwa` (`YES` = tokenised stock ⇒ equity);
- tickers: `markPrice`, `indexPrice` (quote currency), `holdingAmount` (open interest in **base** units,
  × mark = quote value), `quoteVolume` (24 h, quote currency). The tickers' own `fundingRate` is never
  used (it carries no interval and may differ from current-fund-rate at the same moment).
Unverified, so left None: open interest and volume of COIN-FUTURES (the units of `holdingAmount` and
`quoteVolume` for inverse contracts are not documented in the notes).
A rate row missing from its contract list is kept, `unlisted`, its coins read from the symbol.
Limits: 20 requests / s per IP for each of the three paths (shared by the product types).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from funding_finder import model
from funding_finder.errors import BadPayload, EmptyPayload
from funding_finder.exchanges.base import (
    S_PER_HOUR,
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    build_families,
    code_envelope,
    field_of,
    interval_hours,
    parse_rows,
    parse_secondary,
    product,
    split_by_quote,
    text,
)
from funding_finder.model import AssetClass, FundingRate, number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "bitget"
RATES, TICKERS, CONTRACTS = "current-fund-rate", "tickers", "contracts"
PRODUCT_TYPES = ("USDT-FUTURES", "USDC-FUTURES", "COIN-FUTURES")
INVERSE = "COIN-FUTURES"
SYMBOL_QUOTES = {
    "USDT-FUTURES": {"USDT": "USDT"},
    "USDC-FUTURES": {"PERP": "USDC", "USDC": "USDC"},
    INVERSE: {"USD": "USD"},
}
"""Symbol suffix → quote, per product type, to read a symbol the contract list lacks (`BTCPERP` is USDC)."""
RATE_LIMIT_CODES = ("429", "1001", "30014", "30026", "50009")
PATH = "/api/v2/mix/market/"
R = TypeVar("R")


def endpoint_name(kind: str, product_type: str) -> str:
    """`current-fund-rate:USDT-FUTURES`: the endpoint of one kind of call for one product type."""
    return f"{kind}:{product_type}"


def _endpoint(kind: str, role: Role, product_type: str) -> Endpoint:
    return Endpoint(
        endpoint_name(kind, product_type), PATH + kind, role, params={"productType": product_type}
    )


def _path_limit(kind: str) -> Limit:
    """20 requests per 1 s per IP on one path, whatever the product type ("Frequency limit: 20 times/1s")."""
    costs = {endpoint_name(kind, product_type): 1 for product_type in PRODUCT_TYPES}
    return Limit(kind, 20, 1.0, costs=costs, default_cost=0)


SPEC = VenueSpec(
    id=VENUE,
    name="Bitget futures",
    hosts={"api": "https://api.bitget.com"},
    endpoints=tuple(
        _endpoint(kind, role, product_type)
        for product_type in PRODUCT_TYPES
        for kind, role in ((RATES, Role.RATES), (TICKERS, Role.EXTRA), (CONTRACTS, Role.INSTRUMENTS))
    ),
    limits=tuple(_path_limit(kind) for kind in (RATES, TICKERS, CONTRACTS)),
    docs_url="https://www.bitget.com/api-doc/contract/market/Get-Current-Funding-Rate",
    check_envelope=code_envelope("code", ("00000",), rate_limit_codes=RATE_LIMIT_CODES),
    workers=3,
)


@dataclass(frozen=True)
class Rate:
    symbol: str
    rate: float
    interval_hours: float | None
    next_funding_time: datetime | None
    rate_cap: float | None
    """The symbol's bound on the side of the rate's sign (maxFundingRate above 0, minFundingRate below)."""


@dataclass(frozen=True)
class Ticker:
    symbol: str
    mark_price: float | None
    index_price: float | None
    holding_amount: float | None
    quote_volume: float | None


@dataclass(frozen=True)
class Contract:
    symbol: str
    base: str
    quote: str
    tradable: bool
    interval_hours: float | None
    asset_class: AssetClass


def _parse(payload: Any, kind: str, product_type: str, one: Callable[[Any], R]) -> Parsed[R]:
    """`data` rows of one call; a non-list `data` is BadPayload, an empty one EmptyPayload."""
    name = endpoint_name(kind, product_type)
    rows = field_of(VENUE, name, payload, "data")
    if rows == []:
        raise EmptyPayload(VENUE, name, "no rows")
    return parse_rows(VENUE, name, rows, one)


def _rate(row: Any) -> Rate:
    rate = number(row["fundingRate"])
    return Rate(
        text(row["symbol"]),
        rate,
        interval_hours(row.get("fundingRateInterval"), S_PER_HOUR),
        model.optional_from_ms(row.get("nextUpdate")),
        optional_number(row.get("maxFundingRate" if rate >= 0 else "minFundingRate")),
    )


def _ticker(row: Any) -> Ticker:
    return Ticker(
        text(row["symbol"]),
        *(
            optional_number(row.get(key))
            for key in ("markPrice", "indexPrice", "holdingAmount", "quoteVolume")
        ),
    )


def _contract(row: Any) -> Contract:
    """`tradable` unless `symbolType` is not perpetual or `symbolStatus` not normal (absent: kept)."""
    kind, status = row.get("symbolType"), row.get("symbolStatus")
    return Contract(
        text(row["symbol"]),
        text(row["baseCoin"]),
        text(row["quoteCoin"]),
        kind in (None, "perpetual") and status in (None, "normal"),
        interval_hours(row.get("fundInterval"), S_PER_HOUR),
        "equity" if row.get("isRwa") == "YES" else "crypto",
    )


def parse_current_fund_rate(payload: Any, product_type: str) -> Parsed[Rate]:
    return _parse(payload, RATES, product_type, _rate)


def parse_tickers(payload: Any, product_type: str) -> Parsed[Ticker]:
    return _parse(payload, TICKERS, product_type, _ticker)


def parse_contracts(payload: Any, product_type: str) -> Parsed[Contract]:
    return _parse(payload, CONTRACTS, product_type, _contract)


def _contract_from_symbol(symbol: str, product_type: str) -> Contract:
    return Contract(symbol, *split_by_quote(symbol, SYMBOL_QUOTES[product_type]), True, None, "crypto")


def _sizes(ticker: Ticker | None, inverse: bool) -> tuple[float | None, float | None]:
    """(open interest, 24 h volume) in the quote currency; unknown for inverse contracts (unverified)."""
    if ticker is None or inverse:
        return None, None
    return product(ticker.holding_amount, ticker.mark_price), ticker.quote_volume


class _Family:
    """The three payloads of one product type, parsed; a wrong-shaped secondary one counts as missing."""

    def __init__(self, product_type: str, rates: Parsed[Rate], payloads: Mapping[str, Any | None]) -> None:
        self.product_type, self.rates = product_type, rates
        self.unusable: set[str] = set()
        tickers = self._secondary(TICKERS, parse_tickers, payloads)
        listing = self._secondary(CONTRACTS, parse_contracts, payloads)
        self.tickers = {} if tickers is None else {t.symbol: t for t in tickers.items}
        self.contracts = None if listing is None else {c.symbol: c for c in listing.items}
        self.bad_rows = rates.bad_rows + sum(p.bad_rows for p in (tickers, listing) if p)

    def _secondary(
        self, kind: str, parse: Callable[[Any, str], Parsed[R]], payloads: Mapping[str, Any | None]
    ) -> Parsed[R] | None:
        name = endpoint_name(kind, self.product_type)
        return parse_secondary(
            payloads.get(name), partial(parse, product_type=self.product_type), name, self.unusable
        )

    def row(self, rate: Rate, observed_at: datetime) -> FundingRate | None:
        contract = None if self.contracts is None else self.contracts.get(rate.symbol)
        if contract is not None and not contract.tradable:
            return None  # delivery contract, or not `normal`
        listed = None if self.contracts is None else contract is not None
        contract = contract or _contract_from_symbol(rate.symbol, self.product_type)
        inverse = self.product_type == INVERSE
        ticker = self.tickers.get(rate.symbol)
        open_interest, volume = _sizes(ticker, inverse)
        return model.make_rate(
            exchange=VENUE,
            native_symbol=rate.symbol,
            listed_base=contract.base,
            quote=contract.quote,
            settle=contract.base if inverse else self.product_type.removesuffix("-FUTURES"),
            contract_type="inverse" if inverse else "linear",
            funding_rate=rate.rate,
            interval_hours=rate.interval_hours or contract.interval_hours,
            next_funding_time=rate.next_funding_time,
            observed_at=observed_at,
            mark_price=ticker.mark_price if ticker else None,
            index_price=ticker.index_price if ticker else None,
            open_interest_usd=model.usd_value(open_interest, contract.quote),
            volume_24h_usd=model.usd_value(volume, contract.quote),
            asset_class=contract.asset_class,
            listed=listed,
            rate_cap=rate.rate_cap,
        )


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    """The rows of every product type whose rates answered; a failed (None), wrong-shaped or empty
    one costs only its own rows (`base.build_families`)."""

    def build_one(product_type: str, payload: Any) -> BuildResult:
        rates = parse_current_fund_rate(payload, product_type)
        family = _Family(product_type, rates, payloads)
        name = endpoint_name(RATES, product_type)
        joined = parse_rows(VENUE, name, rates.items, partial(family.row, observed_at=observed_at))
        return BuildResult(joined.items, family.bad_rows + joined.bad_rows, family.unusable)

    return build_families(
        payloads,
        {endpoint_name(RATES, product_type): product_type for product_type in PRODUCT_TYPES},
        build_one,
        BadPayload(VENUE, RATES, "no product type's rates answered"),
    )
