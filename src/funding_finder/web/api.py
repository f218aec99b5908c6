"""The JSON API under `/api/`, described by `openapi.json` beside this module (served at
`/api/openapi.json`; the tests check every route against it).

Lists come as `{"items": [...], "limit": L, "offset": O, "next_offset": N or null}` (plus `total`
where it costs nothing). A bad parameter is HTTP 400 `{"error": "bad_parameter", "parameter": ...,
"message": ...}`. Numbers are fractions as everywhere in the project (`funding_rate` per interval,
`rate_per_hour` per hour, `apr` per year); times ISO-8601 UTC.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from importlib.resources import files
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from funding_finder.arbitrage import rate_per_hour
from funding_finder.model import FundingRate, SettledFunding, iso_utc
from funding_finder.web import params
from funding_finder.web.data import Reader, VenueHealth
from funding_finder.web.filters import opportunity_filters, rate_query

blueprint = Blueprint("api", __name__, url_prefix="/api")

HISTORY_WINDOW_DAYS = 7
"""A history request without `since` starts this many days before `until`."""


def reader() -> Reader:
    return current_app.extensions["funding_finder"]


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3 document, kept as data in the package."""
    return json.loads(files("funding_finder.web").joinpath("openapi.json").read_text())


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


def _page(items: list[Any], limit: int, offset: int, total: int | None = None, **extra: Any) -> Response:
    """A list page; `items` may hold one more than `limit` (read to know whether a next page exists)."""
    more = len(items) > limit if total is None else offset + limit < total
    body: dict[str, Any] = {
        "items": items[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }
    if total is not None:
        body["total"] = total
    body.update(extra)
    return jsonify(body)


def rate_json(row: FundingRate) -> dict[str, Any]:
    return {**row.to_json(), "rate_per_hour": rate_per_hour(row)}


RATE_PARAMS = ("exchange", "asset", "q", "contract_type", "clean", "min_oi_usd", "sort", "order")


@blueprint.get("/rates")
def rates() -> Response:
    """The latest row of every contract, filtered and sorted."""
    params.only_known(request.args, (*RATE_PARAMS, "limit", "offset"))
    query = rate_query(request.args, reader().exchanges())
    limit, offset = params.page(request.args, 100)
    rows = reader().rates(query)
    as_json = reader().cached(
        "rate_json", lambda: {(r.exchange, r.native_symbol): rate_json(r) for r in reader().latest()}
    )
    shown = [as_json[(r.exchange, r.native_symbol)] for r in rows[offset : offset + limit]]
    return _page(shown, limit, offset, total=len(rows))


OPPORTUNITY_PARAMS = (
    "exchanges",
    "min_oi_usd",
    "min_volume_usd",
    "linear_only",
    "min_net_apr",
    "hold_hours",
    "allow_flags",
    "taker_fee",
    "history_days",
)


@blueprint.get("/opportunities")
def opportunities() -> Response:
    """The best carry pair of every asset, best net APR first (as `funding-finder top --json`)."""
    params.only_known(request.args, (*OPPORTUNITY_PARAMS, "limit", "offset"))
    filters, hold_hours, fees, history_days = opportunity_filters(request.args, reader().exchanges())
    limit, offset = params.page(request.args, 50)
    found = reader().opportunities(filters, hold_hours, fees, history_days, limit, offset)
    return _page(
        [o.to_json() for o in found.items], limit, offset, total=found.total, excluded=found.excluded
    )


HISTORY_PARAMS = ("asset", "exchange", "native_symbol", "since", "until", "limit", "offset")


def _history_window(args: Any) -> tuple[list[tuple[str, str]], Any, Any, int, int]:
    """The contracts (one, or an asset's) and the [since, until) window of a history request."""
    params.only_known(args, HISTORY_PARAMS)
    asset = params.text(args, "asset")
    exchange = params.text(args, "exchange", 32)
    native_symbol = params.text(args, "native_symbol")
    if asset is None and (exchange is None or native_symbol is None):
        raise params.BadParameter("asset", "give asset, or exchange and native_symbol")
    if asset is not None and (exchange is not None or native_symbol is not None):
        raise params.BadParameter("asset", "give asset, or exchange and native_symbol, not both")
    until = params.moment(args, "until") or reader().clock()
    since = params.moment(args, "since") or until - timedelta(days=HISTORY_WINDOW_DAYS)
    if since >= until:
        raise params.BadParameter("since", "must be before until")
    limit, offset = params.page(args, 500)
    return reader().contracts_of(asset, exchange, native_symbol), since, until, limit, offset


@blueprint.get("/history/snapshots")
def history_snapshots() -> Response:
    """Stored rows (every cycle's, thinned to hourly beyond `--keep-full-days`) of one contract or asset."""
    contracts, since, until, limit, offset = _history_window(request.args)
    rows = reader().store.history_page(contracts, since, until, limit + 1, offset)
    return _page([rate_json(r) for r in rows], limit, offset)


def event_json(event: SettledFunding) -> dict[str, Any]:
    return {
        "exchange": event.exchange,
        "native_symbol": event.native_symbol,
        "funding_time": iso_utc(event.funding_time),
        "funding_rate": event.funding_rate,
        "interval_hours": event.interval_hours,
        "mark_price": event.mark_price,
    }


@blueprint.get("/history/events")
def history_events() -> Response:
    """Settled funding (from `backfill`) of one contract or asset."""
    contracts, since, until, limit, offset = _history_window(request.args)
    events = reader().events(contracts, since, until, limit + 1, offset)
    return _page([event_json(e) for e in events], limit, offset)


@blueprint.get("/cycles")
def cycles() -> Response:
    """Collection cycles, newest first, with every venue's run (as `funding-finder cycles --json`)."""
    params.only_known(request.args, ("limit", "offset"))
    limit, offset = params.page(request.args, 20, max_limit=200)
    records = reader().cycles(limit + 1, offset)
    return _page([r.to_json() for r in records], limit, offset)


def health_json(health: VenueHealth, now: Any) -> dict[str, Any]:
    busiest = health.busiest_limit()
    last = health.last
    return {
        "exchange": health.exchange,
        "last_cycle_id": health.last_cycle_id,
        "last_started_at": iso_utc(health.last_started_at),
        "last_status": last.status if last else None,
        "last_error": last.error if last else None,
        "live": last.live if last else None,
        "runs": health.runs,
        "statuses": [status for _, status in health.statuses],
        "failures": health.failures,
        "rate_limited": health.rate_limited,
        "pauses": health.pauses,
        "gate_wait_s": round(health.gate_wait_s, 3),
        "latency_ms": dict(last.latency_ms) if last else {},
        "busiest_limit": None
        if busiest is None
        else {"name": busiest[0], "used": busiest[1], "allowed": busiest[2]},
        "rows_now": health.rows_now,
        "stale_now": health.stale_now,
        "newest_observation": iso_utc(health.newest_observation),
        "staleness_s": None if health.staleness_s(now) is None else round(health.staleness_s(now), 1),
    }


@blueprint.get("/venues/health")
def venues_health() -> Response:
    """Per venue over the last `cycles` cycles: status, failures by kind, rate-limit figures, staleness."""
    params.only_known(request.args, ("cycles",))
    count = params.integer(request.args, "cycles", 48, 1, 1000)
    now = reader().clock()
    health = reader().health(reader().cycles(count))
    return jsonify({"cycles": count, "venues": [health_json(h, now) for h in health]})
