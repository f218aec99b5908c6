"""Deribit (JSON-RPC over HTTP GET, https://docs.deribit.com/articles/rate-limits): every public request
costs 500 credits from a pool refilled at 10,000 credits per second (20 requests per second sustained);
`public/get_instruments` is also held to 1 request per second. Over a limit Deribit sends the JSON-RPC
error `too_many_requests` (code 10028) and drops the connection; the HTTP status is unverified (429 here).

Only the BTC book summary (a derived file: the recorded BTC-PERPETUAL ticker row in the JSON-RPC
envelope) and the BTC (2021) and USDC (2022) instrument lists are recorded; the other currencies' calls
get the simulator's 404, so a cycle through the simulator keeps the BTC rows only."""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, fixed

SUMMARY = "/api/v2/public/get_book_summary_by_currency"
INSTRUMENTS = "/api/v2/public/get_instruments"

VENUE = SimVenue(
    id="deribit",
    routes={
        RouteKey(
            "deribit", "GET", SUMMARY, (("currency", "BTC"), ("kind", "future"))
        ): "public-get_book_summary_by_currency-BTC-future.derived.json",
        RouteKey(
            "deribit", "GET", INSTRUMENTS, (("currency", "BTC"), ("expired", "false"))
        ): "public-get_instruments-BTC__cryptofeed-20210722.json",
        RouteKey(
            "deribit", "GET", INSTRUMENTS, (("currency", "USDC"), ("expired", "false"))
        ): "public-get_instruments-USDC__cryptofeed-20220529.json",
    },
    limits=VenueLimits(
        pools=(Pool("credits", 10_000, 1.0), Pool("get_instruments", 1, 1.0)),
        charges=(
            Charge("GET", INSTRUMENTS, (("credits", 500), ("get_instruments", 1))),
            Charge(ANY, ANY, (("credits", 500),)),
        ),
        over_limit=OverLimit(
            429, fixed(b'{"jsonrpc":"2.0","error":{"message":"too_many_requests","code":10028}}')
        ),
    ),
    empty_body='{"jsonrpc":"2.0","result":[]}',
)
