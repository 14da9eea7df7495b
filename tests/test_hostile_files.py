"""Files others can read (issue 21 item 4): a new SQLite database, its WAL and shared-memory
files, and an export written with --out are created 0600 (the cache's entries: test_diskcache)."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from click.testing import CliRunner

from placering.cli import cli
from test_register_import import sample_document, write_json

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="file modes are POSIX")


def mode(path) -> str:
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path):
    db = tmp_path / "new.db"
    old = os.umask(0o022)  # what most users have: files 0644 unless created otherwise
    try:
        runner = CliRunner()
        result = runner.invoke(cli, ["--db", f"sqlite:///{db}", "init"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert mode(db) == "0o600"
        reader = sqlite3.connect(db)  # a reader keeps the WAL from being checkpointed away
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM unit").fetchone()
        result = runner.invoke(cli, ["--db", f"sqlite:///{db}", "register", "import",
                                     write_json(tmp_path, sample_document()), "--by", "a"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        for suffix in ("-wal", "-shm"):
            assert mode(f"{db}{suffix}") == "0o600", suffix
        reader.rollback()
        reader.close()
    finally:
        os.umask(old)


def test_an_export_written_to_a_file_is_private(run, tmp_path):
    run("register", "import", write_json(tmp_path, sample_document()), "--by", "a")
    out = tmp_path / "export.json"
    out.write_text("old", encoding="utf-8")
    os.chmod(out, 0o644)  # a file others could read is replaced, not written into
    for args in (["--json"], ["--csv", "--show-protected"]):
        result = run("register", "export", *args, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert mode(out) == "0o600"
    assert "U-2001" in out.read_text(encoding="utf-8")


def test_the_readme_says_which_files_hold_personal_data():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Files that hold personal data", 1)[1].split("\n#", 1)[0]
    for what in ("placering.db", "-wal", "--out", "PLACERING_CACHE_DIR", "0600"):
        assert what in section, what
