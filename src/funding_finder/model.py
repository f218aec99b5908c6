"""The normalized funding row every venue is turned into, and the rules shared by all venues.

Units: `funding_rate` and `predicted_rate` are fractions per funding interval (0.0001 = 0.01 %),
`interval_hours` is hours, `apr` is a fraction per year (simple, not compounded: rate × 8760 / interval),
prices are in the quote currency, `*_usd` in US dollars, times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

HOURS_PER_YEAR = 8760

ContractType = Literal["linear", "inverse"]
AssetClass = Literal["crypto", "equity", "commodity", "index"]

FLAG_STALE = "stale"
"""The settlement time is not after `observed_at` (delisted, suspended, lagging or replayed data)."""
FLAG_INTERVAL_UNKNOWN = "interval_unknown"
FLAG_UNLISTED = "unlisted"
"""The rate row's contract is missing from the venue's instrument list."""
FLAG_UNFILTERED = "unfiltered"
"""The instrument list could not be had (nor a stored copy): status and type were not checked."""
FLAG_IMPLAUSIBLE = "implausible_rate"
"""|funding_rate| above the venue's cap for the contract, or above `MAX_RATE_PER_HOUR` × its interval:
most likely a unit mistake (a percent read as a fraction, an absolute amount read as a rate)."""
FLAG_MARK_OFF_INDEX = "mark_off_index"
"""The mark price is more than `MAX_MARK_INDEX_GAP` away from the index price: a broken or sandbox
quote, or a book so thin that its funding cannot be traded on."""
FLAGS = (
    FLAG_IMPLAUSIBLE,
    FLAG_INTERVAL_UNKNOWN,
    FLAG_MARK_OFF_INDEX,
    FLAG_STALE,
    FLAG_UNFILTERED,
    FLAG_UNLISTED,
)

MAX_MARK_INDEX_GAP = 0.05
"""|mark / index − 1| above which a row is flagged `mark_off_index`, a fraction (5 %). Perpetuals are
held near their index by funding itself; on the recorded venues all but one contract in a thousand
sit within 4 %, and the one beyond 5 % that is not stale is a sandbox quote (Coinbase International
BTC-PERP, mark 55,540 against index 67,328)."""

MAX_RATE_PER_HOUR = 0.04
"""Sanity bound on |funding_rate| / interval_hours, a fraction per hour: the widest published cap of any
venue covered (Hyperliquid, 4 % per hour). Real rates sit orders of magnitude below it."""
CAP_TOLERANCE = 1e-9
"""Slack on a venue's own cap, so a rate sitting exactly at the cap is not flagged through float noise."""

USD_QUOTES = frozenset({"USD", "USDT", "USDC"})
"""Quotes whose amounts are counted as US dollars in `*_usd` fields."""

BASE_ALIASES = {"XBT": "BTC"}
"""Venue asset names that mean another venue's asset: the one alias table of the project (multiplier
prefixes such as `1000PEPE`, `kPEPE`, `1000000MOG`, `10000SATS` are split off by `split_multiplier`)."""

SAME_UNDERLYING: dict[tuple[str, str], str] = {}
"""(exchange, native_symbol) → shared asset key, for equity, commodity and index contracts known to track
the same underlying. Empty until a pairing is checked by hand: tokenised stocks are named differently
across venues (AAPL, AAPLX, AAPLx) and one name can mean different things, so none is matched by name."""

_MULTIPLIER_PREFIX = re.compile(r"^(1000000|100000|10000|1000|1M|k)(?=[A-Z])")
_PREFIX_VALUE = {
    "1000000": 1_000_000,
    "100000": 100_000,
    "10000": 10_000,
    "1000": 1000,
    "1M": 1_000_000,
    "k": 1000,
}


def split_multiplier(listed_base: str) -> tuple[str, int]:
    """`1000PEPE` → (`PEPE`, 1000), `kPEPE` → (`PEPE`, 1000), `1INCH` → (`1INCH`, 1), `XBT` → (`BTC`, 1).

    A prefix counts only when a letter follows it, so names that merely start with digits stay assets.
    """
    match = _MULTIPLIER_PREFIX.match(listed_base)
    if match:
        prefix = match.group(1)
        base, multiplier = listed_base[len(prefix) :], _PREFIX_VALUE[prefix]
    else:
        base, multiplier = listed_base, 1
    return BASE_ALIASES.get(base, base), multiplier


def unified_symbol(listed_base: str, quote: str, settle: str) -> str:
    """`BASE/QUOTE:SETTLE` with the venue's own listing of the base (`1000PEPE/USDT:USDT`)."""
    return f"{BASE_ALIASES.get(listed_base, listed_base)}/{quote}:{settle}"


def apr_of(funding_rate: float | None, interval_hours: float | None) -> float | None:
    """Simple annualized rate (fraction per year); unknown when the interval is unknown."""
    if funding_rate is None or not interval_hours:
        return None
    return funding_rate * HOURS_PER_YEAR / interval_hours


@dataclass(frozen=True, slots=True)
class FundingRate:
    """One contract's funding at one observation. Null means unknown; nothing is made up."""

    exchange: str
    symbol: str
    native_symbol: str
    base: str
    multiplier: int
    quote: str
    settle: str
    contract_type: ContractType
    funding_rate: float
    """Fraction per interval: the rate of the period that settles at `next_funding_time`."""
    interval_hours: float | None
    next_funding_time: datetime | None
    predicted_rate: float | None
    """Fraction per interval of the period *after* `next_funding_time`, where the venue publishes it."""
    mark_price: float | None
    index_price: float | None
    open_interest_usd: float | None
    volume_24h_usd: float | None
    asset_class: AssetClass
    apr: float | None
    """`funding_rate × 8760 / interval_hours`, fraction per year."""
    observed_at: datetime
    flags: tuple[str, ...] = field(default=())

    @property
    def asset(self) -> str | None:
        """The key this row shares with the same asset on other venues (see `asset_key`)."""
        return asset_key(self.exchange, self.native_symbol, self.base, self.asset_class)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: numbers stay numbers, times are ISO-8601 UTC to the second, flags a list."""
        out = asdict(self)
        out["next_funding_time"] = iso_utc(self.next_funding_time)
        out["observed_at"] = iso_utc(self.observed_at)
        out["flags"] = list(self.flags)
        out["asset"] = self.asset
        return out


def asset_key(exchange: str, native_symbol: str, base: str, asset_class: AssetClass) -> str | None:
    """What rows of different venues must share to be the same asset: a crypto contract's base (aliases
    and multipliers removed: `1000PEPE`, `kPEPE` and `PEPE` are all `PEPE`); for equity, commodity and
    index contracts only an explicit `SAME_UNDERLYING` entry, else None (never matched)."""
    if asset_class == "crypto":
        return base
    return SAME_UNDERLYING.get((exchange, native_symbol))


def make_rate(
    *,
    exchange: str,
    native_symbol: str,
    listed_base: str,
    quote: str,
    settle: str,
    contract_type: ContractType,
    funding_rate: float,
    interval_hours: float | None,
    next_funding_time: datetime | None,
    observed_at: datetime,
    predicted_rate: float | None = None,
    mark_price: float | None = None,
    index_price: float | None = None,
    open_interest_usd: float | None = None,
    volume_24h_usd: float | None = None,
    asset_class: AssetClass = "crypto",
    listed: bool | None = True,
    rate_cap: float | None = None,
) -> FundingRate:
    """The one constructor venues use, so that symbol, base, apr and flags follow one rule.

    `listed` is True when the instrument list has the contract, False when the list lacks it
    (`unlisted`) and None when no list could be had (`unfiltered`). `rate_cap` is the venue's own
    bound on |funding_rate| for the contract (fraction per interval) where its payload gives one.
    """
    base, multiplier = split_multiplier(listed_base)
    return FundingRate(
        exchange=exchange,
        symbol=unified_symbol(listed_base, quote, settle),
        native_symbol=native_symbol,
        base=base,
        multiplier=multiplier,
        quote=quote,
        settle=settle,
        contract_type=contract_type,
        funding_rate=funding_rate,
        interval_hours=interval_hours,
        next_funding_time=next_funding_time,
        predicted_rate=predicted_rate,
        mark_price=mark_price,
        index_price=index_price,
        open_interest_usd=open_interest_usd,
        volume_24h_usd=volume_24h_usd,
        asset_class=asset_class,
        apr=apr_of(funding_rate, interval_hours),
        observed_at=observed_at,
        flags=quality_flags(
            funding_rate,
            interval_hours,
            next_funding_time,
            observed_at,
            listed,
            rate_cap,
            mark_price=mark_price,
            index_price=index_price,
        ),
    )


def quality_flags(
    funding_rate: float | None,
    interval_hours: float | None,
    next_funding_time: datetime | None,
    observed_at: datetime,
    listed: bool | None,
    rate_cap: float | None = None,
    *,
    mark_price: float | None = None,
    index_price: float | None = None,
) -> tuple[str, ...]:
    """The closed list of row flags, computed in this one place (sorted); `mark_not_live` adds `stale`
    to the rows of a venue whose data stopped moving."""
    flags = set()
    if not interval_hours:
        flags.add(FLAG_INTERVAL_UNKNOWN)
    if next_funding_time is not None and next_funding_time <= observed_at:
        flags.add(FLAG_STALE)
    if implausible_rate(funding_rate, interval_hours, rate_cap):
        flags.add(FLAG_IMPLAUSIBLE)
    if listed is False:
        flags.add(FLAG_UNLISTED)
    if listed is None:
        flags.add(FLAG_UNFILTERED)
    if mark_price and index_price and abs(mark_price / index_price - 1) > MAX_MARK_INDEX_GAP:
        flags.add(FLAG_MARK_OFF_INDEX)
    return tuple(sorted(flags))


def implausible_rate(
    funding_rate: float | None, interval_hours: float | None, rate_cap: float | None
) -> bool:
    """Above the contract's own cap, or above the sanity bound for its interval (when known)."""
    if funding_rate is None:
        return False
    if rate_cap is not None and abs(funding_rate) > abs(rate_cap) + CAP_TOLERANCE:
        return True
    return bool(interval_hours) and abs(funding_rate) > MAX_RATE_PER_HOUR * interval_hours


def mark_not_live(row: FundingRate) -> FundingRate:
    """The row of a venue whose data stopped moving: flagged `stale`, whatever its settlement time."""
    if FLAG_STALE in row.flags:
        return row
    return replace(row, flags=tuple(sorted({*row.flags, FLAG_STALE})))


def usd_value(amount_in_quote: float | None, quote: str) -> float | None:
    """An amount in the quote currency counted as USD, or None when the quote is not a dollar."""
    if amount_in_quote is None or quote not in USD_QUOTES:
        return None
    return amount_in_quote


def iso_utc(moment: datetime | None) -> str | None:
    """`2026-07-04T16:00:00Z`: UTC, truncated to the second."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def strict_json(value: Any) -> Any:
    """`value` with every non-finite float (±inf, NaN) made None: JSON has no such numbers, and a
    rate of 1e308 per interval (flagged `implausible_rate`) has an infinite APR."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(item) for item in value]
    return value


def from_ms(epoch_ms: int | float | str) -> datetime:
    """Epoch milliseconds (number or numeric string) as a UTC datetime; ValueError when not one."""
    return from_s(number(epoch_ms) / 1000)


def from_s(epoch_s: int | float | str) -> datetime:
    """Epoch seconds (number or numeric string) as a UTC datetime; ValueError when not one.

    An absurd value (1e17 s) raises OSError or OverflowError inside `fromtimestamp`; it is turned
    into ValueError so that it costs one row like any other malformed value.
    """
    try:
        return datetime.fromtimestamp(number(epoch_s), UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"not a time: {epoch_s!r}") from exc


def optional_from_ms(epoch_ms: Any) -> datetime | None:
    """Like `from_ms`, but None and `""` mean unknown."""
    return None if epoch_ms is None or epoch_ms == "" else from_ms(epoch_ms)


def optional_from_s(epoch_s: Any) -> datetime | None:
    """Like `from_s`, but None and `""` mean unknown."""
    return None if epoch_s is None or epoch_s == "" else from_s(epoch_s)


def next_full_hour(moment: datetime) -> datetime:
    """The first top of the hour strictly after `moment`: the documented settlement of hourly venues."""
    top = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return top if top > moment else top + timedelta(hours=1)


def number(value: Any) -> float:
    """A finite number from a JSON number or a numeric string; anything else is a ValueError.

    `""`, None, booleans, NaN and infinities are rejected so that a missing value never becomes 0.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip()):
        result = float(value)
    else:
        raise ValueError(f"not a number: {value!r}")
    if not math.isfinite(result):
        raise ValueError(f"not a finite number: {value!r}")
    return result


def optional_number(value: Any) -> float | None:
    """Like `number`, but None and `""` mean unknown (OKX `nextFundingRate: ""`)."""
    if value is None or value == "":
        return None
    return number(value)


@dataclass(frozen=True)
class SettledFunding:
    """One settlement event from a venue's history: the rate actually paid at `funding_time`.

    `funding_rate` is a fraction per interval; `funding_time` is the venue's own stamp rounded to the
    second (venues add millisecond jitter), never moved onto an assumed grid. `interval_hours` is the
    gap to the contract's previous event, None for its first known one; `mark_price` in the quote
    currency where the venue gives it.
    """

    exchange: str
    native_symbol: str
    funding_time: datetime
    funding_rate: float
    interval_hours: float | None = None
    mark_price: float | None = None


def settled(
    exchange: str, native_symbol: str, funding_time_ms: Any, funding_rate: Any, mark_price: Any = None
) -> SettledFunding:
    """A history row from raw fields: epoch ms (number or string), rate and price as numbers or strings."""
    moment = from_s(round(number(funding_time_ms) / 1000))
    return SettledFunding(
        exchange, native_symbol, moment, number(funding_rate), None, optional_number(mark_price)
    )


def with_intervals(events: list[SettledFunding], previous: datetime | None = None) -> list[SettledFunding]:
    """`events` of one contract sorted by time, each with `interval_hours` from the gap to the one
    before it (`previous`: the last stored event), rounded to the minute; a duplicate time is dropped."""
    result: list[SettledFunding] = []
    for event in sorted(events, key=lambda e: e.funding_time):
        if previous is not None and event.funding_time <= previous:
            continue
        gap_h = None if previous is None else round((event.funding_time - previous).total_seconds() / 60) / 60
        result.append(replace(event, interval_hours=gap_h))
        previous = event.funding_time
    return result
