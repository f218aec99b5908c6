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


def get_venue(venue_id: str) -> ModuleType:
    """The venue module for an id; KeyError names the implemented ones."""
    try:
        return VENUES[venue_id]
    except KeyError:
        raise KeyError(f"unknown exchange {venue_id!r}; implemented: {', '.join(VENUES)}") from None
