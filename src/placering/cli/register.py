"""`placering register …`: the maintainers' commands."""

from __future__ import annotations

import click

from . import cli
from .common import PlaceringGroup


@cli.group(cls=PlaceringGroup)
def register() -> None:
    """The supplier register (utförarregister): import, search, status, checks, history."""
