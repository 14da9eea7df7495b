"""`placering match`, `placering request …` and `placering review …`: the handlers' commands."""

from __future__ import annotations

import click

from . import cli
from .common import PlaceringGroup
