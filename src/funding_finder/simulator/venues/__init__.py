"""One module per simulated venue, each defining `VENUE`, a `spec.SimVenue`; found by `all_venues()`."""

from __future__ import annotations

import importlib
import pkgutil

from funding_finder.simulator.spec import SimVenue


def all_venues() -> tuple[SimVenue, ...]:
    """Every venue module of this package, in module-name order."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    return tuple(importlib.import_module(f"{__name__}.{name}").VENUE for name in names)
