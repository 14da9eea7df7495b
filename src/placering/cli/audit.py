"""`placering audit …`: read-only answers for auditors, from the register's history."""

from __future__ import annotations

import click

from . import cli
from .common import PlaceringGroup


@cli.group(cls=PlaceringGroup)
def audit() -> None:
    """Audits: paused suppliers, affected placements, yearly figures, the change log."""
