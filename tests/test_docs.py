"""Every command has help, and the README names every command a user can run."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from placering.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


ALL = list(_commands(cli))


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=[" ".join(p) for p, _ in ALL])
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = dict(ALL)[path]
    assert (command.help or "").strip(), f"placering {' '.join(path)} has no help text"


@pytest.mark.parametrize(
    "path", [p for p, _ in ALL if len(p) <= 2 and p[0] != "bench"], ids=lambda p: " ".join(p)
)
def test_readme_names_every_command(path):
    # Top-level commands by name; sub-commands as they appear in the README's tables.
    assert path[-1] in README, f"README does not mention 'placering {' '.join(path)}'"
