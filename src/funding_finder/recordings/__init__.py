"""Recorded venue responses shipped with the package (data, see SOURCES.md here).

The simulator serves them and the tests assert normalized values against them, so a fresh install
works without the shared sample folder.
"""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any


def recording_path(venue: str, name: str) -> Traversable:
    return files(__name__).joinpath(venue, name)


def load_bytes(venue: str, name: str) -> bytes:
    return recording_path(venue, name).read_bytes()


def load_json(venue: str, name: str) -> Any:
    return json.loads(load_bytes(venue, name))
