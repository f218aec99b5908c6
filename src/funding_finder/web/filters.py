"""The filters of the rates table and of the opportunities, read from query parameters: one reading
shared by the pages and the API, so that a page's URL and the API call it mirrors mean the same."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from funding_finder.arbitrage import HOLD_HOURS_RANGE, Filters
from funding_finder.exchanges import VENUES
from funding_finder.model import FLAG_INTERVAL_UNKNOWN, FLAGS
from funding_finder.web import params
from funding_finder.web.data import RATE_SORTS, RateQuery

ALLOWABLE_FLAGS = tuple(flag for flag in FLAGS if flag != FLAG_INTERVAL_UNKNOWN)
"""Row flags an opportunity scan may take in (an unknown interval never: no per-hour rate)."""
DEFAULT_HOLD_HOURS = 168.0
DEFAULT_HISTORY_DAYS = 7.0
MAX_HISTORY_DAYS = 30.0


def _venues(args: Any, name: str, stored: Collection[str]) -> frozenset[str] | None:
    """Venue ids: the implemented ones and any other stored (`ccxt:` venues)."""
    return params.names(args, name, allowed={*VENUES, *stored})


def rate_query(args: Any, stored: Collection[str]) -> RateQuery:
    """`exchange` (comma-separated), `asset`, `q` (part of the symbol), `contract_type`, `clean`,
    `min_oi_usd`, `sort` (a key of `RATE_SORTS`) and `order` (`asc` or `desc`, default desc except
    for the names)."""
    sort = params.choice(args, "sort", "apr", RATE_SORTS)
    default_order = "asc" if sort in ("exchange", "symbol", "asset", "next_funding_time") else "desc"
    contract_type = params.text(args, "contract_type")
    if contract_type is not None:
        contract_type = params.choice(args, "contract_type", "linear", ("linear", "inverse"))
    return RateQuery(
        exchanges=_venues(args, "exchange", stored),
        asset=params.text(args, "asset", 64),
        search=params.text(args, "q", 96),
        contract_type=contract_type,
        clean_only=params.boolean(args, "clean"),
        min_oi_usd=params.number(args, "min_oi_usd", None, low=0),
        sort=sort,
        descending=params.choice(args, "order", default_order, ("asc", "desc")) == "desc",
    )


def opportunity_filters(args: Any, stored: Collection[str]) -> tuple[Filters, float, dict[str, float], float]:
    """(filters, hold_hours, taker-fee overrides, history_days), as `funding-finder top` reads its
    options: `exchanges`, `min_oi_usd`, `min_volume_usd`, `linear_only`, `min_net_apr` (a fraction
    per year), `hold_hours`, `allow_flags`, `taker_fee=VENUE:FRACTION` (repeatable), `history_days`."""
    filters = Filters(
        min_open_interest_usd=params.number(args, "min_oi_usd", None, low=0),
        min_volume_24h_usd=params.number(args, "min_volume_usd", None, low=0),
        exchanges=_venues(args, "exchanges", stored),
        linear_only=params.boolean(args, "linear_only"),
        min_net_apr=params.number(args, "min_net_apr", None),
        allow_flags=params.names(args, "allow_flags", allowed=ALLOWABLE_FLAGS) or frozenset(),
    )
    low, high = HOLD_HOURS_RANGE
    hold_hours = params.number(args, "hold_hours", DEFAULT_HOLD_HOURS, low=low, high=high)
    history_days = params.number(
        args, "history_days", DEFAULT_HISTORY_DAYS, low=0.0001, high=MAX_HISTORY_DAYS
    )
    assert hold_hours is not None and history_days is not None
    return filters, hold_hours, params.taker_fees(args), history_days
