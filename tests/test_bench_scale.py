"""`placering bench scale` runs whole processes and prints its figures (never asserted as
timings): a tiny run checks that every figure is there and that the batch run again adds
nothing."""

from __future__ import annotations

import json

from click.testing import CliRunner

from placering.cli import cli


def test_bench_scale_prints_every_figure():
    result = CliRunner().invoke(cli, ["bench", "scale", "--sizes", "60", "--requests", "8", "--no-demo", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["startup"]["help_s"] > 0 and out["startup"]["version_s"] > 0
    [row] = out["rows"]
    assert row["units"] == 60 and row["database"] == "sqlite" and row["requests"] == 8
    assert row["decisions"] == 10 and row["batch_again_added"] == 0  # 2 single matches + the batch of 8
    for key in ("match_first_s", "match_s", "match_mb", "batch_s", "batch_mb", "bytes_per_decision", "snapshot_bytes",
                "match_after_choice_s", "match_after_choice_mb", "match_next_day_s", "import_s", "write_s", "read_s"):
        assert row[key] > 0, key
    assert set(row["reads"]) == {"register show", "register search", "register history", "audit paused", "rules list",
                                 "request show"}
