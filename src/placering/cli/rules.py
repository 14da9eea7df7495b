"""`placering rules …`: list, show, lint and test the rule files."""

from __future__ import annotations

import click

from . import cli
from .common import PlaceringGroup


@cli.group(cls=PlaceringGroup)
def rules() -> None:
    """The rule files in rules/: list, show, lint, test."""
