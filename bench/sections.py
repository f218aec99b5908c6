"""BENCHMARKS.md is made of sections between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers,
each written by one benchmark script; a script replaces its own section and leaves the others."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def write_section(name: str, text: str, target: Path = BENCHMARKS) -> None:
    """Replace section `name` of `target` with `text` (which carries its own markers), or append it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    current = target.read_text() if target.exists() else "# Benchmarks\n\nFigures from this machine.\n\n"
    if start in current:
        head, rest = current.split(start, 1)
        current = head + text + rest.split(end, 1)[1]
    else:
        current = current.rstrip() + "\n\n" + text + "\n"
    target.write_text(current)
