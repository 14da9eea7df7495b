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


# Every command that lists data takes the same output options, through one shared decorator
# (cli.common.output_options): --json, --jsonl, --csv, --excel and --all.
LISTING = [
    ("register", "search"), ("register", "history"), ("register", "proposals"), ("review", "list"),
    ("rules", "list"), ("request", "replay"),
    ("audit", "paused"), ("audit", "affected-placements"), ("audit", "removals"), ("audit", "requests"),
    ("audit", "checks-due"), ("audit", "direct-procurement"), ("audit", "adherence"), ("audit", "visits"),
    ("audit", "log"), ("register", "entry", "list"),
]


def _resolve(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    ctx = click.Context(cli)
    for name in path:
        command = command.get_command(ctx, name)  # loads lazy command modules
        assert command is not None, f"no command 'placering {' '.join(path)}'"
    return command


@pytest.mark.parametrize("path", LISTING, ids=lambda p: " ".join(p))
def test_every_listing_command_takes_the_same_output_options(path):
    from placering.cli.common import OUTPUT_OPTION_NAMES

    command = _resolve(path)
    options = {opt for p in command.params for opt in p.opts}
    missing = [o for o in OUTPUT_OPTION_NAMES if o not in options]
    assert not missing, f"placering {' '.join(path)} lacks {missing}"
    assert getattr(command.callback, "__placering_output__", False), "not through cli.common.output_options"


def _every_command(group: click.Group, prefix: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or (not prefix and name == "bench"):
            continue
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _every_command(command, (*prefix, name))


def test_every_command_with_csv_takes_all_the_output_options():
    # `register export` writes the interchange file (its own --csv/--excel); every other command
    # offering CSV lists data and takes the whole set, through the shared decorator.
    from placering.cli.common import OUTPUT_OPTION_NAMES

    offenders = []
    for path, command in _every_command(cli):
        if path == ("register", "export") or not any("--csv" in p.opts for p in command.params):
            continue
        options = {opt for p in command.params for opt in p.opts}
        if not set(OUTPUT_OPTION_NAMES) <= options or not getattr(command.callback, "__placering_output__", False):
            offenders.append(" ".join(path))
    assert not offenders, offenders
