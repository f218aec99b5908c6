"""Cross-venue funding carry: for each asset listed on two or more venues, the best pair to hold —
long where funding per hour is lowest, short where it is highest — with fees, break-even and how long
the spread has lasted. Pure functions over stored `FundingRate` rows; nothing here reads the store.

Units: every rate is a fraction (0.0001 = 0.01 %), never a percent. `*_per_hour` is a fraction of one
leg's notional per hour, `*_per_8h` per 8 hours, `apr` per year (simple: × 8760, not compounded).
Fees are fractions of one leg's notional per trade. Both legs are taken at the same notional (the
same quantity of the asset), so every figure is "per unit of one leg's notional" — the usual way a
carry is quoted; the margin the trader posts on each leg is not counted.

Funding direction: a positive rate means longs pay shorts. Holding long on venue L and short on
venue S earns `rate_S / interval_S − rate_L / interval_L` per hour: the spread.

Inverse (coin-margined) legs: the venue charges `rate × position value`, the value taken in the coin
(contracts × face value / mark price), and pays it in the coin. Counted in dollars at the time of
payment that is still `rate × notional`, so the rate per interval is used as a fraction of notional
exactly as for a linear leg. What differs is the currency the carry arrives in (`Leg.settle`), and
that coin collateral moves with the price: the figures here do not model that exposure.

Which rows are used: a row without an interval (`interval_hours` null) can never be normalized to
an hour and is always left out. A row with any quality flag (`stale`, `implausible_rate`,
`unlisted`, `unfiltered`) is left out unless that flag is named in `allow_flags`; then it is used and
its flags are carried on its leg, so the output marks it. Every row left out is counted by reason.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from funding_finder.model import FLAG_INTERVAL_UNKNOWN, HOURS_PER_YEAR, FundingRate, iso_utc

HOURS_PER_8H = 8

DEFAULT_TAKER_FEE = 0.001
"""Taker fee (fraction per trade) of a venue whose published fee could not be confirmed: 0.10 %,
above every confirmed regular-tier perpetual taker fee in `TAKER_FEES` (the highest is 0.06 %)."""

TAKER_FEES: dict[str, float] = {
    # Regular (VIP 0 / non-VIP / default account) taker fee for perpetuals, a fraction per trade.
    # Looked up with the project's search tool in December 2026; the page named is where it was read.
    "binance": 0.0005,  # USDⓈ-M regular 0.0500 %: binance.com/en/support/faq/360033544231, /en/fee/futureFee
    "okx": 0.0005,  # perpetuals regular 0.05 %: okx.com/fees (via the loweef futures fee index, 2026-10)
    "bybit": 0.00055,  # non-VIP 0.055 %: bybit.com/en/help-center/article/Trading-Fee-Structure (loweef)
    "bitget": 0.0006,  # standard 0.06 %: bitget.com support article 4552737163033 (fee schedule)
    "gate": 0.0005,  # futures VIP 0 0.0500 %: Gate announcement 50390 (fee adjustment of 2026-04-09)
    "mexc": 0.0004,  # USDT-M BTC_USDT 0.04 %, set per contract: mexc.com/fee (loweef index, 2026-10-14)
    "kucoin": 0.0006,  # 0.06 %: only third-party confirmation (Hummingbot's KuCoin perpetual default,
    #                    hummingbot issue 6163); KuCoin's own fee page was not in the stored sources
    "htx": 0.0006,  # USDT-M Prime 0 0.06 %: htx.com/support/900000089923
    "bingx": 0.0005,  # 0.05 %: bingx.com/en/support/costs/futures (loweef index)
    "hyperliquid": 0.00045,  # base tier 0.045 %: hyperliquid docs trading/fees (as quoted by Superior
    #                          Trade's fee guide, which cites that page)
    "dydx": 0.0005,  # tier 1 (< $1M 30 d) 5 bps: docs.dydx.exchange/introduction-trading_fees
    "deribit": 0.0005,  # BTC/ETH perpetuals 0.05 %: support.deribit.com Fees (api-evangelist finops copy)
    "krakenfutures": 0.0005,  # 0.05 %: kraken.com/features/fee-schedule (loweef index)
    "phemex": 0.0006,  # contracts 0.06 %: phemex.com/user-guides/how-are-trading-fees-calculated
    "bitmart": 0.0006,  # general users 0.060 %: support.bitmart.com article 360043674813
    "coinex": 0.0005,  # futures LV0 0.05 %: announcement.coinex.com article 29142898853140
    "paradex": 0.0002,  # API standard 0.02 % (UI retail profile 0 %): docs.paradex.trade/trading/trading-fee
    "lighter": 0.0,  # standard (default) account 0 %, premium 0.028 %: apidocs.lighter.xyz/docs/account-types
    # Not confirmed, so DEFAULT_TAKER_FEE applies: coinbaseintl (only its liquidity-programme tiers were
    # found), bitfinex (third-party figures disagree: 0.065 %-0.075 %), woox (fee table not in the
    # stored page), aster (third-party figures disagree: 0.035 % and 0.05 %), backpack (its fee
    # table is an image), cryptocom (its fee page was not stored), and every `ccxt:<id>` venue.
}


def taker_fee(exchange: str, overrides: Mapping[str, float] | None = None) -> float:
    """The taker fee (fraction per trade) used for a venue: an override, else `TAKER_FEES`, else the
    conservative `DEFAULT_TAKER_FEE`."""
    if overrides and exchange in overrides:
        return overrides[exchange]
    return TAKER_FEES.get(exchange, DEFAULT_TAKER_FEE)


def rate_per_hour(row: FundingRate) -> float | None:
    """`funding_rate / interval_hours`: the fraction of notional paid per hour; None without an interval."""
    if not row.interval_hours:
        return None
    return row.funding_rate / row.interval_hours


def unit_price(row: FundingRate) -> float | None:
    """The mark price of one unit of the asset, in the quote currency: `1000PEPE` and `kPEPE` are
    quoted per 1000 PEPE, so their mark is divided by the multiplier."""
    if row.mark_price is None or row.mark_price <= 0:
        return None
    return row.mark_price / row.multiplier


@dataclass(frozen=True)
class Leg:
    """One side of a pair, as stored: the venue's contract and its funding."""

    exchange: str
    native_symbol: str
    symbol: str
    contract_type: str
    settle: str
    """The currency the leg's funding and fees are paid in (the coin for an inverse leg)."""
    funding_rate: float
    """Fraction per interval."""
    interval_hours: float
    rate_per_hour: float
    """Fraction of notional per hour."""
    next_funding_time: datetime | None
    mark_price: float | None
    """Per contract unit, in the quote currency (per 1000 for `1000PEPE`)."""
    open_interest_usd: float | None
    volume_24h_usd: float | None
    taker_fee: float
    """Fraction per trade assumed for this venue."""
    flags: tuple[str, ...]
    """The row's flags that were allowed in (`allow_flags`); empty for a clean row."""

    @classmethod
    def of(cls, row: FundingRate, fee: float) -> Leg:
        hourly = rate_per_hour(row)
        assert hourly is not None and row.interval_hours  # rows without an interval never get here
        return cls(
            exchange=row.exchange,
            native_symbol=row.native_symbol,
            symbol=row.symbol,
            contract_type=row.contract_type,
            settle=row.settle,
            funding_rate=row.funding_rate,
            interval_hours=row.interval_hours,
            rate_per_hour=hourly,
            next_funding_time=row.next_funding_time,
            mark_price=row.mark_price,
            open_interest_usd=row.open_interest_usd,
            volume_24h_usd=row.volume_24h_usd,
            taker_fee=fee,
            flags=row.flags,
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.exchange, self.native_symbol)

    def to_json(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "native_symbol": self.native_symbol,
            "symbol": self.symbol,
            "contract_type": self.contract_type,
            "settle": self.settle,
            "funding_rate": self.funding_rate,
            "interval_hours": self.interval_hours,
            "rate_per_hour": self.rate_per_hour,
            "next_funding_time": iso_utc(self.next_funding_time),
            "mark_price": self.mark_price,
            "open_interest_usd": self.open_interest_usd,
            "volume_24h_usd": self.volume_24h_usd,
            "taker_fee": self.taker_fee,
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class Opportunity:
    """The best pair of one asset: long `long`, short `short`, both at the same notional."""

    asset: str
    long: Leg
    short: Leg
    hold_hours: float
    """The holding period the net figures assume, in hours."""
    price_gap: float | None
    """`short unit price / long unit price − 1`: positive when the short is sold above the long's
    price (a gain if the two converge by the exit). Unknown without both marks."""
    persistence_hours: float | None = None
    """How long, up to the newest observation, the spread has stayed above zero in the stored
    history, in hours; None until `with_persistence` is applied, 0 when the newest spread is not
    above zero."""
    positive_since: datetime | None = None
    """The earliest observation of that unbroken positive run."""

    @property
    def spread_per_hour(self) -> float:
        """Fraction of notional earned per hour: short's rate per hour minus long's."""
        return self.short.rate_per_hour - self.long.rate_per_hour

    @property
    def spread_per_8h(self) -> float:
        return self.spread_per_hour * HOURS_PER_8H

    @property
    def apr(self) -> float:
        """The spread per year (simple), before fees."""
        return self.spread_per_hour * HOURS_PER_YEAR

    @property
    def fees(self) -> float:
        """Opening and closing both legs as a taker: 2 × (long fee + short fee), fraction of notional."""
        return 2 * (self.long.taker_fee + self.short.taker_fee)

    @property
    def net_apr(self) -> float:
        """`(spread × hold − fees) / hold`, per year: the fees spread over the holding period."""
        return (self.spread_per_hour * self.hold_hours - self.fees) / self.hold_hours * HOURS_PER_YEAR

    @property
    def break_even_hours(self) -> float | None:
        """Hours of carry that pay the fees (`fees / spread_per_hour`); None when the spread is not
        above zero, 0 when there are no fees."""
        if self.spread_per_hour <= 0:
            return None
        return self.fees / self.spread_per_hour

    @property
    def flags(self) -> tuple[str, ...]:
        """Flags of either leg that were allowed in: the pair is built on marked data."""
        return tuple(sorted({*self.long.flags, *self.short.flags}))

    def to_json(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "long": self.long.to_json(),
            "short": self.short.to_json(),
            "spread_per_hour": self.spread_per_hour,
            "spread_per_8h": self.spread_per_8h,
            "apr": self.apr,
            "price_gap": self.price_gap,
            "fees": self.fees,
            "hold_hours": self.hold_hours,
            "net_apr": self.net_apr,
            "break_even_hours": self.break_even_hours,
            "persistence_hours": self.persistence_hours,
            "positive_since": iso_utc(self.positive_since),
            "flags": list(self.flags),
        }

    def to_flat(self) -> dict[str, Any]:
        """One flat record (CSV): the legs' fields prefixed `long_` / `short_`, flags joined by `;`."""
        record = self.to_json()
        flat: dict[str, Any] = {"asset": record["asset"]}
        for side in ("long", "short"):
            flat.update({f"{side}_{name}": value for name, value in record[side].items()})
        flat.update({name: record[name] for name in PAIR_FIELDS})
        return {name: ";".join(value) if isinstance(value, list) else value for name, value in flat.items()}


HOLD_HOURS_RANGE = (0.01, 24 * 3650.0)
"""Holding periods accepted, in hours (36 s to ten years), by `top --hold-hours` and the API."""


PAIR_FIELDS = (
    "spread_per_hour",
    "spread_per_8h",
    "apr",
    "price_gap",
    "fees",
    "hold_hours",
    "net_apr",
    "break_even_hours",
    "persistence_hours",
    "positive_since",
    "flags",
)
"""The pair's own keys in `Opportunity.to_json`, after `asset`, `long` and `short`."""


def flat_columns() -> list[str]:
    """The columns of `Opportunity.to_flat` (CSV): `asset`, each leg's fields prefixed `long_` and
    `short_`, then the pair's figures."""
    leg = [f.name for f in fields(Leg)]
    return ["asset", *(f"long_{n}" for n in leg), *(f"short_{n}" for n in leg), *PAIR_FIELDS]


@dataclass(frozen=True)
class Filters:
    """Which rows may become legs, and which pairs are kept.

    `min_open_interest_usd` and `min_volume_24h_usd` apply to each leg; a leg whose figure is unknown
    does not pass a minimum that is set. `exchanges`: legs only on these venues (None: all).
    `min_net_apr`: pairs whose net APR over the holding period is at least this fraction per year.
    `allow_flags`: row flags that do not exclude a row (the leg then carries them).
    """

    min_open_interest_usd: float | None = None
    min_volume_24h_usd: float | None = None
    exchanges: frozenset[str] | None = None
    linear_only: bool = False
    min_net_apr: float | None = None
    allow_flags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Scan:
    """The opportunities, best net APR first, and the rows left out by reason (a flag name,
    `no_asset`, `exchange`, `inverse`, `open_interest`, `volume`)."""

    opportunities: list[Opportunity]
    excluded: dict[str, int]


def exclusion(row: FundingRate, filters: Filters) -> str | None:
    """Why a row cannot be a leg, or None when it can. Unknown intervals first: they can never be used."""
    if not row.interval_hours or FLAG_INTERVAL_UNKNOWN in row.flags:
        return FLAG_INTERVAL_UNKNOWN
    blocking = [flag for flag in row.flags if flag not in filters.allow_flags]
    if blocking:
        return blocking[0]
    if row.asset is None:
        return "no_asset"
    if filters.exchanges is not None and row.exchange not in filters.exchanges:
        return "exchange"
    if filters.linear_only and row.contract_type != "linear":
        return "inverse"
    if not _at_least(row.open_interest_usd, filters.min_open_interest_usd):
        return "open_interest"
    if not _at_least(row.volume_24h_usd, filters.min_volume_24h_usd):
        return "volume"
    return None


def _at_least(value: float | None, minimum: float | None) -> bool:
    return minimum is None or (value is not None and value >= minimum)


def find_opportunities(
    rows: Iterable[FundingRate],
    *,
    hold_hours: float,
    filters: Filters | None = None,
    fees: Mapping[str, float] | None = None,
) -> Scan:
    """The best cross-venue pair of every asset seen on two or more venues among the usable rows,
    sorted by net APR over `hold_hours` (hours), highest first. `fees`: per-venue taker fee overrides."""
    if not (math.isfinite(hold_hours) and hold_hours > 0):
        raise ValueError(f"hold_hours must be a finite number of hours above 0, got {hold_hours!r}")
    filters = filters or Filters()
    excluded: Counter[str] = Counter()
    by_asset: dict[str, list[FundingRate]] = {}
    for row in rows:
        reason = exclusion(row, filters)
        if reason:
            excluded[reason] += 1
            continue
        assert row.asset is not None
        by_asset.setdefault(row.asset, []).append(row)
    found = []
    for asset, candidates in by_asset.items():
        pair = best_pair(candidates)
        if pair is None:
            continue
        long_row, short_row = pair
        opportunity = Opportunity(
            asset=asset,
            long=Leg.of(long_row, taker_fee(long_row.exchange, fees)),
            short=Leg.of(short_row, taker_fee(short_row.exchange, fees)),
            hold_hours=hold_hours,
            price_gap=price_gap(long_row, short_row),
        )
        if filters.min_net_apr is None or opportunity.net_apr >= filters.min_net_apr:
            found.append(opportunity)
    found.sort(key=lambda o: (-o.net_apr, -o.apr, o.asset))
    return Scan(found, dict(sorted(excluded.items())))


def best_pair(rows: Sequence[FundingRate]) -> tuple[FundingRate, FundingRate] | None:
    """(long, short) on two different venues with the widest spread per hour; None when every row is
    on one venue. Ties keep the first pair in (exchange, native_symbol) order, so the answer is stable."""
    ordered = sorted(rows, key=lambda row: (row.exchange, row.native_symbol))
    best: tuple[FundingRate, FundingRate] | None = None
    best_spread = -math.inf
    for long_row in ordered:
        for short_row in ordered:
            if long_row.exchange == short_row.exchange:
                continue
            spread = _hourly(short_row) - _hourly(long_row)
            if spread > best_spread:
                best, best_spread = (long_row, short_row), spread
    return best


def _hourly(row: FundingRate) -> float:
    hourly = rate_per_hour(row)
    assert hourly is not None
    return hourly


def price_gap(long_row: FundingRate, short_row: FundingRate) -> float | None:
    """`short unit price / long unit price − 1` (fraction); None without both marks. Quotes are taken
    at par (USD, USDT and USDC), so the gap includes any stablecoin basis."""
    long_price, short_price = unit_price(long_row), unit_price(short_row)
    if long_price is None or short_price is None:
        return None
    return short_price / long_price - 1


def persistence(
    long_history: Sequence[FundingRate], short_history: Sequence[FundingRate]
) -> tuple[float, datetime | None]:
    """How long the spread (short's rate per hour − long's) has stayed above zero, in hours, up to the
    newest observation of either leg, and the earliest observation of that run (None when the newest
    spread is not above zero).

    The two histories are merged by `observed_at`; at each observation the other leg's latest earlier
    row stands in (venues answer a few hundred milliseconds apart in one cycle, and a venue that missed
    a cycle keeps its last rate). Rows without an interval are skipped. Flags are not looked at: a
    replayed row still says what the venue published then.
    """
    events = sorted(
        [(row.observed_at, "long", row) for row in long_history if rate_per_hour(row) is not None]
        + [(row.observed_at, "short", row) for row in short_history if rate_per_hour(row) is not None],
        key=lambda event: event[0],
    )
    latest: dict[str, float] = {}
    samples: list[tuple[datetime, float]] = []
    for moment, side, row in events:
        latest[side] = _hourly(row)
        if len(latest) == 2:
            samples.append((moment, latest["short"] - latest["long"]))
    if not samples or samples[-1][1] <= 0:
        return 0.0, None
    newest = samples[-1][0]
    since = newest
    for moment, spread in reversed(samples):
        if spread <= 0:
            break
        since = moment
    return (newest - since).total_seconds() / 3600, since


def with_persistence(
    opportunity: Opportunity, history: Mapping[tuple[str, str], Sequence[FundingRate]]
) -> Opportunity:
    """The opportunity with `persistence_hours` and `positive_since` from the stored history of its two
    contracts (`Store.rate_history`)."""
    hours, since = persistence(history.get(opportunity.long.key, ()), history.get(opportunity.short.key, ()))
    return replace(opportunity, persistence_hours=hours, positive_since=since)
