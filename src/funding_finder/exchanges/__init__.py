"""The venue registry: one module per venue, looked up by its id."""

from __future__ import annotations

from types import ModuleType

from funding_finder.exchanges import (
    aster,
    backpack,
    binance,
    bingx,
    bitfinex,
    bitget,
    bitmart,
    bybit,
    coinbaseintl,
    coinex,
    cryptocom,
    deribit,
    dydx,
    gate,
    htx,
    hyperliquid,
    krakenfutures,
    kucoin,
    lighter,
    mexc,
    okx,
    paradex,
    phemex,
    woox,
)

VENUES: dict[str, ModuleType] = {
    module.SPEC.id: module
    for module in (
        binance,
        okx,
        bybit,
        bitget,
        gate,
        mexc,
        kucoin,
        htx,
        bingx,
        hyperliquid,
        dydx,
        deribit,
        krakenfutures,
        coinbaseintl,
        bitfinex,
        phemex,
        woox,
        bitmart,
        coinex,
        aster,
        backpack,
        paradex,
        lighter,
        cryptocom,
    )
}
"""Implemented venues by id, in the order of the product's venue list (README's venue table)."""


CCXT_PREFIX = "ccxt:"
"""`ccxt:<id>` names any ccxt exchange with `fetchFundingRates` (the optional `ccxt` extra)."""


def get_venue(venue_id: str) -> ModuleType:
    """The venue module for an id; KeyError names the implemented ones (and why a ccxt id is not)."""
    if venue_id in VENUES:
        return VENUES[venue_id]
    if venue_id.startswith(CCXT_PREFIX):
        from funding_finder.exchanges import ccxt_bridge

        return ccxt_bridge.venue(venue_id.removeprefix(CCXT_PREFIX))  # KeyError says why not
    raise KeyError(f"unknown exchange {venue_id!r}; implemented: {', '.join(VENUES)}")
