"""Each venue's published REST limits, as the simulator enforces them (its own table, on purpose).

The limits are written from the venues' documentation (see the "Rate limits" and "Errors" parts of the
venue handbook) in the venue modules under `simulator/venues/`, and never imported from
`funding_finder.exchanges`: the simulator exists to catch an adapter that declares a limit wrongly,
which it could not do if both read the same numbers.

A venue has pools (capacity per sliding window, and what is counted together), charge rows (which
request costs how much in which pool; the first matching row wins) and the reply a venue sends once a
request would cross a pool.
"""

from __future__ import annotations

from funding_finder.simulator.spec import ANY, Charge, OverLimit, Pool, UsageHeader, VenueLimits
from funding_finder.simulator.venues import all_venues

__all__ = ["ANY", "LIMITS", "Charge", "OverLimit", "Pool", "UsageHeader", "VenueLimits"]

LIMITS: dict[str, VenueLimits] = {venue.id: venue.limits for venue in all_venues()}
