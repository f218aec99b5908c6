"""The venue registry: one module per venue, looked up by its id."""

from __future__ import annotations

from types import ModuleType

from funding_finder.exchanges import binance, bybit, gate, hyperliquid, mexc, okx

VENUES: dict[str, ModuleType] = {
    module.SPEC.id: module for module in (binance, okx, bybit, hyperliquid, gate, mexc)
}
"""Implemented venues by id, in the order the README lists them."""


def get_venue(venue_id: str) -> ModuleType:
    """The venue module for an id; KeyError names the implemented ones."""
    try:
        return VENUES[venue_id]
    except KeyError:
        raise KeyError(f"unknown exchange {venue_id!r}; implemented: {', '.join(VENUES)}") from None
