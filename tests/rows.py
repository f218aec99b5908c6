"""Assertions shared by the venue tests: rows compared field by field with the recorded values."""

from __future__ import annotations

from typing import Any

import pytest

from funding_finder.exchanges.base import BuildResult
from funding_finder.model import FundingRate

DERIVED = ("apr", "open_interest_usd", "volume_24h_usd")
"""Fields computed by multiplication or division (APR, contracts × size × price): compared to 1e-12."""


def assert_row(row: FundingRate, *, approx_also: tuple[str, ...] = (), **expected: Any) -> None:
    """Every named field of `row` equals its expected value; floats of DERIVED fields (and of
    `approx_also`) to a relative 1e-12, everything else exactly."""
    for name, value in expected.items():
        actual = getattr(row, name)
        if isinstance(value, float) and name in DERIVED + approx_also:
            assert actual == pytest.approx(value, rel=1e-12), name
        else:
            assert actual == value, name


def by_native(result: BuildResult) -> dict[str, FundingRate]:
    """The rows of a build keyed by the venue's own symbol."""
    return {row.native_symbol: row for row in result.rows}
