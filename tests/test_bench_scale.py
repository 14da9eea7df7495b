"""`placering bench scale` runs whole processes and prints its figures (never asserted as
timings): a tiny run checks that every figure is there, before and after, and that the batch
run again adds nothing."""

from __future__ import annotations

import json
import sys

from click.testing import CliRunner

from placering.bench.scale import FIGURES, READS
from placering.cli import cli


def test_bench_scale_prints_every_figure_before_and_after():
    # --before names an interpreter: here this one (the same placering on both sides), as a
    # checkout of an earlier commit with its own virtual environment would be named.
    result = CliRunner().invoke(cli, ["bench", "scale", "--sizes", "60", "--requests", "8", "--no-demo",
                                      "--before", sys.executable])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [r["side"] for r in rows] == ["before", "after"]
    for row in rows:
        assert row["units"] == 60 and row["database"] == "sqlite" and row["requests"] == 8
        assert row["decisions"] == 10 and row["batch_again_added"] == 0  # 2 single matches + the batch of 8
        for key in ("match_first_s", "match_s", "match_mb", "batch_s", "batch_mb", "bytes_per_decision",
                    "snapshot_bytes", "match_after_choice_s", "match_after_choice_mb", "match_next_day_s", "import_s",
                    "write_s", "read_s"):
            assert row[key] > 0, key
        assert set(row["reads"]) == set(READS)
    out = result.stdout
    assert "Before: " in out and "After: " in out
    table = out[out.index("Each figure"):]
    assert "SQLite before" in table and "SQLite after" in table
    for label in ["start-up: placering --version", "start-up: placering --help", *(f[0] for f in FIGURES)]:
        [line] = [ln for ln in table.splitlines() if ln.startswith(label)]
        assert line[len(label):].count("(") == 2, line  # a figure before and after: wall (CPU)


def test_bench_scale_before_must_be_a_placering():
    result = CliRunner().invoke(cli, ["bench", "scale", "--sizes", "60", "--before", "/nonexistent/before"])
    assert result.exit_code == 2
    assert "--before" in result.output and "/nonexistent/before" in result.output
