"""Exchange simulator: venues' real API paths served locally from recorded responses, under each
venue's published rate limits, with injectable latency and faults.

    with Simulator(latency_ms=0) as sim:
        requests.get(sim.venue_url("gate") + "/api/v4/futures/usdt/contracts")
"""

from funding_finder.simulator.faults import FAULT_KINDS
from funding_finder.simulator.run import format_summary, serve_forever
from funding_finder.simulator.server import Simulator

__all__ = ["FAULT_KINDS", "Simulator", "format_summary", "serve_forever"]
