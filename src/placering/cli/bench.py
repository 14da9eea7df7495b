"""`placering bench …`: benchmarks that print measured figures (speed, memory)."""

from __future__ import annotations

import click

from . import cli
from .common import PlaceringGroup


@cli.group(cls=PlaceringGroup)
def bench() -> None:
    """Benchmarks: print timing and memory figures for import, the rules engine, matching, audits."""


from . import bench_register as _bench_register  # noqa: E402,F401
from . import bench_audit as _bench_audit  # noqa: E402,F401
from . import bench_engine as _bench_engine  # noqa: E402,F401
from . import bench_matching as _bench_matching  # noqa: E402,F401
from . import bench_rules as _bench_rules  # noqa: E402,F401
