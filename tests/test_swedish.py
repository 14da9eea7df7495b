"""Swedish in and out, Excel files that round-trip, tables that keep the why (issue 19).

Each finding of the issue, through the CLI on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest

from test_register_binding import load_register, register_doc, unit, write
from test_register_import import load

NOTE = "Leverantören har meddelat att verksamheten avvecklats helt under våren."


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def _header_line(screen: str, first: str) -> str:
    return next(line for line in screen.splitlines() if line.startswith(first))


@pytest.fixture
def removed(run, tmp_path):
    """The sample register with U-1001 removed (reason and note): history that says why."""
    load(run, tmp_path)
    ok(run("register", "status", "U-1001", "removed", "--reason", "avvecklad", "--note", NOTE,
           "--on", "2024-03-01", "--by", "spink"))
    return run


# --- 1. tables that keep the why -------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 100])
def test_history_keeps_the_why_columns_at_80_and_100(removed, width):
    screen = ok(removed("register", "history", "U-1001", env={"COLUMNS": str(width)})).stdout
    assert all(len(line) <= width for line in screen.splitlines())
    head = _header_line(screen, "Gäller")
    for column in ("Händelse", "Ändring", "Orsak"):
        assert column in head, (column, screen)
    if width == 100:
        assert "Anteckning" in head and "avvecklats" in screen
    assert "Avvecklad" in screen  # the reason itself, not only its header
    if "får plats" in screen:  # what is left out is said, and how to see it
        assert "-x" in screen.split("får plats")[1]


def test_a_table_into_a_file_or_pipe_keeps_every_column_whole(removed):
    screen = ok(removed("register", "history", "U-1001")).stdout  # CliRunner: not a terminal
    head = _header_line(screen, "Gäller")
    for column in ("Registrerad", "Av", "Post", "Händelse", "Ändring", "Orsak", "Regel", "Anteckning"):
        assert column in head, column
    assert "får plats" not in screen
    assert any(NOTE in line and "Avvecklad" in line for line in screen.splitlines())  # one row, one line
    paused = ok(removed("audit", "paused", "--as-of", "2024-06-30")).stdout
    assert "Orsak" in _header_line(paused, "Id") and "Rekommendationsstopp" in paused


def test_entry_list_keeps_what_is_missing_at_100(run, tmp_path):
    load_register(run, tmp_path, unit("U-1", price=4100))
    new = register_doc(unit("U-1", price=4100), unit("U-NEW", "direktupphandling", 3000),
                       checks={"U-NEW": [{"kind": "tax_registration", "result": "fail", "performed_on": "2024-09-01"}]})
    new["suppliers"] = new["suppliers"][1:]
    ok(run("register", "import", write(tmp_path, new, "new.json"), "--by", "registervård", "--on", "2024-01-02"))
    for width in (80, 100):
        screen = ok(run("register", "entry", "list", "--on", "2024-09-01", env={"COLUMNS": str(width)})).stdout
        assert "Inte godkända" in screen and "F-skatt" in screen, screen
        assert "U-NEW" in screen
    expanded = ok(run("register", "entry", "list", "--on", "2024-09-01", "-x", env={"COLUMNS": "60"})).stdout
    assert re.search(r"^Inte godkända\s+\| Kreditupplysning", expanded, re.M) and "F-skatt" in expanded, expanded
    assert "-[ Post 1 ]" in expanded


def test_ids_are_never_split_nor_dropped(run):
    screen = ok(run("rules", "list", env={"COLUMNS": "80"})).stdout
    assert "ELIG-AGREEMENT-NOT-STARTED" in screen
    assert all(len(line) <= 80 for line in screen.splitlines())


def test_expanded_view_and_columns_on_a_listing(removed):
    shown = ok(removed("register", "history", "U-1001", "--columns", "gäller från,orsak,Note",
                       env={"COLUMNS": "80"})).stdout
    assert _header_line(shown, "Gäller").split() == ["Gäller", "från", "Orsak", "Anteckning"]
    as_csv = ok(removed("register", "history", "U-1001", "--columns", "effective_on,reason", "--csv")).stdout
    assert as_csv.splitlines()[0] == "effective_on,reason"
    record = ok(removed("register", "history", "U-1001", "-x", env={"COLUMNS": "50"})).stdout
    assert re.search(r"^Anteckning\s+\| Leverantören", record, re.M)
    unknown = removed("register", "history", "U-1001", "--columns", "färg")
    assert unknown.exit_code == 2 and "ingen kolumn 'färg'" in unknown.stderr and "Orsak (reason)" in unknown.stderr


def test_every_listing_writes_an_excel_workbook_with_swedish_headers(removed, tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "historik.xlsx"
    ok(removed("register", "history", "U-1001", "--xlsx", str(path)))
    ws = load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("Gäller från", "Registrerad", "Av", "Post", "Händelse")
    removal = next(r for r in rows if "Avvecklad" in r)
    assert "Statusändring" in removal and NOTE in removal
    assert any("Publicerad → Borttagen" in str(c) for c in removal)  # labels, not codes
