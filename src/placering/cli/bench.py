"""`placering bench …`: benchmarks that print measured figures (speed, memory)."""

from __future__ import annotations

import click

from . import cli
from .common import PlaceringGroup


@cli.group(cls=PlaceringGroup)
def bench() -> None:
    """Benchmarks: print timing and memory figures for import, the rules engine, matching, audits."""
