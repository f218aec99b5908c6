"""The dashboard's pages, rendered on the server: opportunities (`/`), all rates (`/rates`), one asset
across venues with its funding history chart (`/asset/<asset>`) and venue health (`/venues`).

Each page reads its filters with the same functions as the API route it mirrors, and links to it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, url_for

from funding_finder.arbitrage import rate_per_hour
from funding_finder.web import params
from funding_finder.web.data import RATE_SORTS, Reader, failures_over_time
from funding_finder.web.filters import ALLOWABLE_FLAGS, opportunity_filters, rate_query

blueprint = Blueprint("pages", __name__)

RATES_PAGE = 200
"""Rows per page of the rates table."""
OPPORTUNITIES_PAGE = 50
CHART_BUCKETS_MS = (300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000)
"""Chart resolutions (5 min to 4 h): the finest giving at most `CHART_POINTS` points per series."""
CHART_POINTS = 400
CHART_DAYS = (1, 3, 7, 14, 30)
MAX_CHART_EVENTS = 20_000
"""Settlement events drawn at most (30 days of every contract of an asset settling hourly is ~20,000)."""


def reader() -> Reader:
    return current_app.extensions["funding_finder"]


def url_with(**changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one); a new sort or filter
    starts again at the first page."""
    args = request.args.to_dict(flat=False)
    if "offset" not in changes:
        args.pop("offset", None)
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = [str(value)]
    return url_for(request.endpoint or "pages.opportunities", **(request.view_args or {}), **args)


@blueprint.app_context_processor
def helpers() -> dict[str, Any]:
    return {"url_with": url_with, "now": reader().clock()}


@blueprint.get("/")
def opportunities() -> str:
    filters, hold_hours, fees, history_days = opportunity_filters(request.args, reader().exchanges())
    limit, offset = params.page(request.args, OPPORTUNITIES_PAGE, max_limit=500)
    found = reader().opportunities(filters, hold_hours, fees, history_days, limit, offset)
    return render_template(
        "opportunities.html",
        found=found,
        filters=filters,
        hold_hours=hold_hours,
        history_days=history_days,
        limit=limit,
        offset=offset,
        venues=reader().exchanges(),
        allowable_flags=ALLOWABLE_FLAGS,
        api_url=url_for("api.opportunities", **request.args.to_dict(flat=False)),
    )


@blueprint.get("/rates")
def rates() -> str:
    query = rate_query(request.args, reader().exchanges())
    limit, offset = params.page(request.args, RATES_PAGE, max_limit=2000)
    rows = reader().rates(query)
    return render_template(
        "rates.html",
        rows=rows[offset : offset + limit],
        total=len(rows),
        query=query,
        limit=limit,
        offset=offset,
        venues=reader().exchanges(),
        sorts=RATE_SORTS,
        rate_per_hour=rate_per_hour,
        api_url=url_for("api.rates", **request.args.to_dict(flat=False)),
    )


def _bucket_ms(days: int) -> int:
    span_ms = days * 86_400_000
    return next((b for b in CHART_BUCKETS_MS if span_ms / b <= CHART_POINTS), CHART_BUCKETS_MS[-1])


@blueprint.get("/asset/<path:asset>")  # an asset name may hold a slash
def asset(asset: str) -> str:
    if len(asset) > 64:
        abort(404)
    days = params.integer(request.args, "days", 7, 1, max(CHART_DAYS))
    rows = reader().asset_rows(asset)
    if not rows:
        abort(404, description=f"no stored contract of the asset {asset!r}")
    contracts = [(row.exchange, row.native_symbol) for row in rows]
    now = reader().clock()
    since = now - timedelta(days=days)
    bucket_ms = _bucket_ms(days)
    window = [since.timestamp(), now.timestamp()]  # the chart's x axis, epoch seconds
    events, events_data = reader().events_chart(contracts, since, MAX_CHART_EVENTS)
    return render_template(
        "asset.html",
        asset=rows[0].asset,
        rows=rows,
        days=days,
        day_choices=CHART_DAYS,
        bucket_min=bucket_ms // 60_000,
        history_chart={
            **reader().chart(contracts, since, bucket_ms),
            "range": window,
        },
        events_chart={**events_data, "range": window},
        events=events,
        rate_per_hour=rate_per_hour,
        api_url=url_for("api.history_snapshots", asset=rows[0].asset),
    )


@blueprint.get("/venues")
def venues() -> str:
    count = params.integer(request.args, "cycles", 48, 1, 1000)
    records = reader().cycles(count)
    return render_template(
        "venues.html",
        health=reader().health(records),
        cycles=records[:10],
        count=count,
        failures_chart=failures_over_time(records),
        api_url=url_for("api.venues_health", cycles=count),
    )
