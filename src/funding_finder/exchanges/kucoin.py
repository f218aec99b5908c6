"""KuCoin Futures: every contract's current funding in one `GET /api/v1/contracts/active` per cycle.

API docs: https://www.kucoin.com/docs-new/rest/futures-trading/market-data/get-all-symbols
(envelope `{"code":"200000","data":[…]}`; host api-futures.kucoin.com, futures paths 404 on api.kucoin.com).

Fields used (JSON numbers unless noted):
- `symbol` (`XBTUSDTM`); `baseCurrency` (`XBT` → `BTC`), `quoteCurrency`, `settleCurrency`; `isInverse`
  (the `…USDM` contracts: quoted in USD, settled in the base coin);
- `fundingFeeRate`: fraction per interval of the current period; `predictedFundingFeeRate`: the next
  period's (null in the 2026 data ⇒ None); `fundingRateCap` / `fundingRateFloor`: the contract's bounds;
- `fundingRateGranularity`: the interval in **milliseconds** (28800000 = 8 h), else
  `currentFundingRateGranularity` (ms; null on some rows); neither ⇒ interval unknown;
- `nextFundingRateDateTime`: the settlement time, epoch **ms**. `nextFundingRateTime` is NOT used: it is
  a countdown in ms until that settlement, not an epoch (kucoin-api-docs issue 427);
- `markPrice`, `indexPrice` (quote currency); `openInterest` (string, **contracts**); `multiplier`:
  base units per contract for linear contracts, and negative (-1) for inverse ones, whose contracts are
  1 USD each (read: |multiplier| USD); `turnoverOf24h` (linear: quote currency); `volumeOf24h`
  (inverse: USD, i.e. contracts × 1 USD — in the recording ETHUSDM 740954 ≈ turnover 294.27 ETH × mark);
- open interest = contracts × |multiplier| × mark (linear), contracts × |multiplier| USD (inverse).
Filters (venue fields only): `status` other than `Open` and `type` other than `FFWCSX` (perpetual; the
dated futures are `FFICSX`) are dropped; a row without them is kept. `marketType: "NASDAQ"` ⇒ equity.
Limit: "Public" pool 2000 weight / 30 s per IP; contracts/active weighs 3. Error envelope: `code` other
than `"200000"` inside HTTP 200; `429000` is the rate limit (also sent with HTTP 429).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder import model
from funding_finder.errors import EmptyPayload
from funding_finder.exchanges.base import (
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    code_envelope,
    field_of,
    interval_hours,
    parse_rows,
    product,
    text,
)
from funding_finder.model import AssetClass, ContractType, number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "kucoin"
RATES = "contracts-active"
PERPETUAL_TYPE = "FFWCSX"
ASSET_CLASSES: dict[str, AssetClass] = {"NASDAQ": "equity"}
"""`marketType` values that are not crypto (`CRYPTO` is)."""
RATE_LIMIT_CODES = ("429000",)

SPEC = VenueSpec(
    id=VENUE,
    name="KuCoin Futures",
    hosts={"api": "https://api-futures.kucoin.com"},
    endpoints=(Endpoint(RATES, "/api/v1/contracts/active", Role.RATES),),
    # "Public" resource pool: 2000 weight per 30 s per IP, all VIP levels; contracts/active weighs 3.
    limits=(Limit("public", 2000, 30.0, costs={RATES: 3}),),
    docs_url="https://www.kucoin.com/docs-new/rest/futures-trading/market-data/get-all-symbols",
    check_envelope=code_envelope("code", ("200000",), rate_limit_codes=RATE_LIMIT_CODES),
    workers=1,
)


@dataclass(frozen=True)
class Contract:
    symbol: str
    base: str
    quote: str
    settle: str
    contract_type: ContractType
    rate: float
    rate_cap: float | None
    """The contract's bound on the rate on the side of its sign (cap above 0, floor below)."""
    predicted_rate: float | None
    interval_hours: float | None
    next_funding_time: datetime | None
    mark_price: float | None
    index_price: float | None
    open_interest_usd: float | None
    volume_24h_usd: float | None
    asset_class: AssetClass


def _interval_hours(row: Mapping[str, Any]) -> float | None:
    """`fundingRateGranularity` (ms), else `currentFundingRateGranularity` (ms), else unknown."""
    for key in ("fundingRateGranularity", "currentFundingRateGranularity"):
        hours = interval_hours(row.get(key), 0.001)
        if hours is not None:
            return hours
    return None


def _rate_cap(rate: float, row: Mapping[str, Any]) -> float | None:
    return optional_number(row.get("fundingRateCap" if rate >= 0 else "fundingRateFloor"))


def _sizes(row: Mapping[str, Any], inverse: bool, mark: float | None) -> tuple[float | None, float | None]:
    """(open interest, 24 h volume) in the quote currency; see the module docstring for the units."""
    contracts = optional_number(row.get("openInterest"))
    size = optional_number(row.get("multiplier"))
    size = None if size is None else abs(size)
    if inverse:
        return product(contracts, size), optional_number(row.get("volumeOf24h"))
    return product(contracts, size, mark), optional_number(row.get("turnoverOf24h"))


def _contract(row: Any) -> Contract | None:
    status, kind = row.get("status"), row.get("type")
    if (status is not None and status != "Open") or (kind is not None and kind != PERPETUAL_TYPE):
        return None
    inverse = row.get("isInverse") is True
    quote = text(row["quoteCurrency"])
    rate = number(row["fundingFeeRate"])
    mark = optional_number(row.get("markPrice"))
    open_interest, volume = _sizes(row, inverse, mark)
    return Contract(
        symbol=text(row["symbol"]),
        base=text(row["baseCurrency"]),
        quote=quote,
        settle=text(row["settleCurrency"]),
        contract_type="inverse" if inverse else "linear",
        rate=rate,
        rate_cap=_rate_cap(rate, row),
        predicted_rate=optional_number(row.get("predictedFundingFeeRate")),
        interval_hours=_interval_hours(row),
        next_funding_time=model.optional_from_ms(row.get("nextFundingRateDateTime")),
        mark_price=mark,
        index_price=optional_number(row.get("indexPrice")),
        open_interest_usd=model.usd_value(open_interest, quote),
        volume_24h_usd=model.usd_value(volume, quote),
        asset_class=ASSET_CLASSES.get(row.get("marketType") or "", "crypto"),
    )


def parse_contracts_active(payload: Any) -> Parsed[Contract]:
    """The open perpetuals of a contracts/active answer; a non-list `data` is BadPayload, [] EmptyPayload."""
    rows = field_of(VENUE, RATES, payload, "data")
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no contracts")
    return parse_rows(VENUE, RATES, rows, _contract)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    parsed = parse_contracts_active(payloads[RATES])
    rows = [
        model.make_rate(
            exchange=VENUE,
            native_symbol=c.symbol,
            listed_base=c.base,
            quote=c.quote,
            settle=c.settle,
            contract_type=c.contract_type,
            funding_rate=c.rate,
            interval_hours=c.interval_hours,
            next_funding_time=c.next_funding_time,
            observed_at=observed_at,
            predicted_rate=c.predicted_rate,
            mark_price=c.mark_price,
            index_price=c.index_price,
            open_interest_usd=c.open_interest_usd,
            volume_24h_usd=c.volume_24h_usd,
            asset_class=c.asset_class,
            rate_cap=c.rate_cap,
        )
        for c in parsed.items
    ]
    return BuildResult(rows, bad_rows=parsed.bad_rows)
