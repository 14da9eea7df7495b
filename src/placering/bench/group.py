"""The `placering bench` command group. Benchmark commands attach to it from the modules of
this package, which only `placering bench …` imports (never the other commands)."""

from __future__ import annotations

import click

from ..cli.common import PlaceringGroup


@click.group(cls=PlaceringGroup)
def bench() -> None:
    """Benchmarks: print timing and memory figures for import, the rules engine, matching, audits."""
