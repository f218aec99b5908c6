"""Phemex perpetuals: the linear and the inverse ticker lists, joined to the product catalog.

API docs: https://github.com/phemex/phemex-api-docs (Public-Hedged-Perpetual-API.md `/md/v2/ticker/24hr`,
Public-Contract-API-en.md `/md/ticker/24hr` and `/public/products`, Generic-API-Info.en.md limits). The
`/all` forms (every symbol, one call) are what ccxt's fetchTickers calls; in the docs: unverified.

Tickers `{"error": null, "id": 0, "result": [...]}`; catalog `{"code": 0, "msg": "OK", "data": {...}}`.
- Linear (`/md/v2/ticker/24hr/all`, strings): `fundingRateRr` fraction per interval (current period),
  `predFundingRateRr` (next period), `markPriceRp`, `indexPriceRp` (quote currency), `openInterestRv`
  (base units, × mark = quote value), `turnoverRv` (24 h volume in the quote currency).
- Inverse (`/md/ticker/24hr/all`): `fundingRateEr`, `predFundingRateEr` **integers × 10^8**; `markEp`,
  `indexEp` integers × 10^`priceScale` of the product (no product ⇒ prices unknown); `openInterest`,
  `volume` in contracts. The docs sample spells them without `Er`/`Ep`: both spellings are read.
- `timestamp`: epoch **ns**, 19 digits (above 2^53), parsed as an int, never a float; the venue's stamp,
  kept on the ticker, never used as our clock.
Interval: the product's `fundingInterval` (**seconds**; the legacy `/exchange/public/products` docs gave
hours, so a value under 3600 is left unknown); no product or field ⇒ unknown. Settlement: the
tickers carry none and the "aligned to 00:00 UTC" derivation is unverified, so it stays None.
Catalog (`/public/products`): `perpProductsV2[]` (type PerpetualV2, `baseCurrency`/`quoteCurrency`/
`settleCurrency`) and `products[]` (type Perpetual; base = `settleCurrency` when it is not the quote, so
inverse `BTCUSD` → `BTC/USD:BTC`, else `contractUnderlyingAssets`: the 2021 USD-settled `ETHUSD` is
`ETH/USD:USD`, linear; `contractSize` is in the quote currency when `contractUnderlyingAssets` is it).
Filters: a product `status` other than `Listed` drops its ticker; Spot products are ignored. A ticker
missing from a list that came is `unlisted`; when that list is absent (the 2021 catalog predates
`perpProductsV2`) or the call failed, `unfiltered`, read from the symbol (`BTCUSDT`, inverse `BTCUSD`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError
from funding_finder.exchanges.base import (
    INVERSE_QUOTE,
    S_PER_HOUR,
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    build_families,
    field_of,
    interval_hours,
    parse_rows,
    parse_secondary,
    product,
    settle_and_type,
    split_by_quote,
    text,
)
from funding_finder.model import ContractType, FundingRate, make_rate, number, optional_number, usd_value
from funding_finder.ratelimit import Limit

VENUE = "phemex"
LINEAR, INVERSE, PRODUCTS = "tickers-linear", "tickers-inverse", "products"
LIST_OF = {LINEAR: "perpProductsV2", INVERSE: "products"}
"""The product list that describes each ticker list's contracts."""
RATE_SCALE = 8
"""Inverse `…Er` rates are integers × 10^8."""
NS_PER_S = 1_000_000_000
MIN_INTERVAL_S = 3600
"""`fundingInterval` is seconds here (28800); a smaller value is the legacy docs' hours and is not read."""
LINEAR_QUOTES = ("USDT", "USDC")


def check_envelope(venue: str, endpoint: str, payload: Any) -> None:
    """A non-null `error` (tickers) or a `code` other than 0 (products) is an ExchangeError."""
    if not isinstance(payload, dict):
        return
    if payload.get("error") is not None:
        raise ExchangeError(venue, endpoint, f"error: {payload['error']}")
    if "code" in payload and str(payload["code"]) != "0":
        raise ExchangeError(venue, endpoint, f"code {payload['code']}: {payload.get('msg', '')}")


SPEC = VenueSpec(
    id=VENUE,
    name="Phemex",
    hosts={"api": "https://api.phemex.com"},
    endpoints=(
        Endpoint(LINEAR, "/md/v2/ticker/24hr/all", Role.RATES),
        Endpoint(INVERSE, "/md/ticker/24hr/all", Role.RATES),
        Endpoint(PRODUCTS, "/public/products", Role.INSTRUMENTS),
    ),
    # Per IP 5000 requests per 5 minutes (over it: blocked 5 minutes); market data falls in the
    # "Others" group, 100 requests per minute, weight 1.
    limits=(Limit("ip", 5000, 300.0), Limit("others", 100, 60.0)),
    docs_url="https://github.com/phemex/phemex-api-docs/blob/master/Generic-API-Info.en.md",
    check_envelope=check_envelope,
    workers=3,
)


@dataclass(frozen=True)
class Ticker:
    symbol: str
    inverse: bool
    funding_rate: float
    predicted_rate: float | None
    mark: float | None
    """Linear: the price. Inverse: the integer as sent (× 10^priceScale), as is `index`."""
    index: float | None
    open_interest: float | None
    """Linear: base units. Inverse: contracts."""
    volume: float | None
    """Linear: 24 h turnover in the quote currency. Inverse: 24 h contracts."""
    venue_time: datetime | None


@dataclass(frozen=True)
class Product:
    symbol: str
    base: str
    quote: str
    settle: str
    contract_type: ContractType
    interval_hours: float | None
    price_scale: int | None
    contract_size: float | None
    size_in_quote: bool
    """The contract is a fixed amount of the quote currency (1 USD for BTCUSD), not of the base."""
    tradable: bool


def integer(value: Any) -> int:
    """A JSON integer or a signed digit string as an exact int; floats and the rest are ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.removeprefix("-").isascii() and value.removeprefix("-").isdigit():
        return int(value)
    raise ValueError(f"not an integer: {value!r}")


def from_ns(value: Any) -> datetime:
    """Epoch nanoseconds (19 digits) → UTC datetime, exact to the microsecond (no float on the way)."""
    seconds, nanos = divmod(integer(value), NS_PER_S)
    try:
        return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanos // 1000)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"not a time: {value!r}") from exc


def _value(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """The first of `names` present in the row (the schema spelling, then the docs sample's)."""
    return next((row[name] for name in names if name in row), None)


def _scaled(value: Any, scale: int) -> float | None:
    return None if value is None else integer(value) / 10**scale


TICKER_FIELDS = {
    LINEAR: (("fundingRateRr",), ("predFundingRateRr",), ("markPriceRp",), ("indexPriceRp",)),
    INVERSE: (
        ("fundingRateEr", "fundingRate"),
        ("predFundingRateEr", "predFundingRate"),
        ("markEp", "markPrice"),
        ("indexEp", "indexPrice"),
    ),
}
"""Per ticker list: the names of the rate, predicted rate, mark and index (schema name, docs-sample name)."""


def _ticker(row: Any, endpoint: str) -> Ticker:
    inverse = endpoint == INVERSE
    rate, predicted, mark, index = (_value(row, names) for names in TICKER_FIELDS[endpoint])
    if rate is None:
        raise ValueError("no funding rate")
    read_rate = (lambda v: _scaled(v, RATE_SCALE)) if inverse else optional_number
    read_price = (lambda v: _scaled(v, 0)) if inverse else optional_number
    return Ticker(
        text(row["symbol"]),
        inverse,
        number(read_rate(rate)),
        read_rate(predicted),
        read_price(mark),
        read_price(index),
        optional_number(row.get("openInterest" if inverse else "openInterestRv")),
        optional_number(row.get("volume" if inverse else "turnoverRv")),
        None if row.get("timestamp") is None else from_ns(row["timestamp"]),
    )


def parse_tickers(payload: Any, endpoint: str) -> Parsed[Ticker]:
    """One ticker list (`result`); a missing or non-list `result` is BadPayload, an empty one EmptyPayload."""
    rows = field_of(VENUE, endpoint, payload, "result")
    if rows == []:
        raise EmptyPayload(VENUE, endpoint, "no tickers")
    return parse_rows(VENUE, endpoint, rows, lambda row: _ticker(row, endpoint))


def _product(row: Any, kind: str) -> Product | None:
    if row.get("type") not in (None, kind):
        return None  # Spot and other product types are not perpetuals
    quote, settle = text(row["quoteCurrency"]), text(row["settleCurrency"])
    underlying = row.get("contractUnderlyingAssets")
    base = row.get("baseCurrency") or (settle if settle != quote else underlying)
    if base not in (settle, None) and settle != quote:
        raise ValueError(f"settled in neither base nor quote: {row.get('symbol')!r}")
    hours = interval_hours(row.get("fundingInterval"), 1)
    if hours is not None and hours < MIN_INTERVAL_S / S_PER_HOUR:
        hours = None  # hours, as the legacy `/exchange/public/products` docs had it (8): not seconds
    scale = None if row.get("priceScale") is None else integer(row["priceScale"])
    if scale is not None and not 0 <= scale <= 18:
        raise ValueError(f"priceScale {scale}")
    return Product(
        symbol=text(row["symbol"]),
        base=text(base),
        quote=quote,
        settle=settle,
        contract_type="linear" if settle == quote else "inverse",
        interval_hours=hours,
        price_scale=scale,
        contract_size=optional_number(row.get("contractSize")),
        size_in_quote=underlying == quote,
        tradable=row.get("status") in (None, "Listed"),
    )


def parse_products(payload: Any) -> Parsed[Product]:
    """`products[]` (type Perpetual) and `perpProductsV2[]` (type PerpetualV2) of the catalog."""
    data = field_of(VENUE, PRODUCTS, payload, "data")
    lists = {name: data.get(name) for name in LIST_OF.values()} if isinstance(data, dict) else {}
    if not any(isinstance(rows, list) for rows in lists.values()):
        raise BadPayload(VENUE, PRODUCTS, "no products or perpProductsV2 list")
    if not any(lists.values()):
        raise EmptyPayload(VENUE, PRODUCTS, "no products")
    parsed: Parsed[Product] = Parsed([])
    for name, kind in (("products", "Perpetual"), ("perpProductsV2", "PerpetualV2")):
        if lists[name] is not None:
            part = parse_rows(VENUE, PRODUCTS, lists[name], lambda row, kind=kind: _product(row, kind))
            parsed.items += part.items
            parsed.bad_rows += part.bad_rows
    return parsed


def _lists_present(payload: Any) -> set[str]:
    """The ticker lists whose product list the catalog carries (called once it parsed)."""
    return {name for name, key in LIST_OF.items() if isinstance(payload["data"].get(key), list)}


def _from_symbol(ticker: Ticker) -> Product:
    """`BTCUSDT` → linear BTC/USDT:USDT; inverse `BTCUSD` → BTC/USD:BTC, when no product describes it."""
    base, quote = split_by_quote(ticker.symbol, (INVERSE_QUOTE,) if ticker.inverse else LINEAR_QUOTES)
    return Product(ticker.symbol, base, quote, *settle_and_type(base, quote), None, None, None, False, True)


def _times(*factors: float | None) -> float | None:
    """The product of known factors; None when one is unknown or the product is not finite."""
    result = product(*factors)
    return result if result is None or math.isfinite(result) else None


def _unscaled(value: float | None, scale: int | None) -> float | None:
    return None if value is None or scale is None else value / 10**scale


def _quote_values(ticker: Ticker, product: Product) -> tuple[float | None, ...]:
    """(mark, index, open interest, 24 h volume): prices and amounts in the quote currency."""
    if not ticker.inverse:
        return ticker.mark, ticker.index, _times(ticker.open_interest, ticker.mark), ticker.volume
    mark, index = _unscaled(ticker.mark, product.price_scale), _unscaled(ticker.index, product.price_scale)
    per_contract = product.contract_size if product.size_in_quote else _times(product.contract_size, mark)
    return mark, index, _times(ticker.open_interest, per_contract), _times(ticker.volume, per_contract)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    """The rows of both ticker lists, joined to the catalog; a failed (None), wrong-shaped or empty
    ticker list costs only its own rows (`base.build_families`)."""
    unusable: set[str] = set()
    parsed = parse_secondary(payloads.get(PRODUCTS), parse_products, PRODUCTS, unusable)
    catalog = None if parsed is None else {product.symbol: product for product in parsed.items}
    known = set() if parsed is None else _lists_present(payloads[PRODUCTS])

    def join(ticker: Ticker) -> FundingRate | None:
        product = None if catalog is None else catalog.get(ticker.symbol)
        if product is not None and not product.tradable:
            return None  # delisted or suspended
        listed = None if (INVERSE if ticker.inverse else LINEAR) not in known else product is not None
        product = product or _from_symbol(ticker)
        mark, index, oi, volume = _quote_values(ticker, product)
        return make_rate(
            exchange=VENUE,
            native_symbol=ticker.symbol,
            listed_base=product.base,
            quote=product.quote,
            settle=product.settle,
            contract_type=product.contract_type,
            funding_rate=ticker.funding_rate,
            interval_hours=product.interval_hours,
            next_funding_time=None,
            observed_at=observed_at,
            predicted_rate=ticker.predicted_rate,
            mark_price=mark,
            index_price=index,
            open_interest_usd=usd_value(oi, product.quote),
            volume_24h_usd=usd_value(volume, product.quote),
            listed=listed,
        )

    def build_one(name: str, payload: Any) -> BuildResult:
        tickers = parse_tickers(payload, name)
        joined = parse_rows(VENUE, name, tickers.items, join)
        return BuildResult(joined.items, tickers.bad_rows + joined.bad_rows)

    result = build_families(
        payloads,
        {LINEAR: LINEAR, INVERSE: INVERSE},
        build_one,
        EmptyPayload(VENUE, LINEAR, "no ticker list answered"),
    )
    result.bad_rows += parsed.bad_rows if parsed else 0
    result.unusable |= unusable
    return result
