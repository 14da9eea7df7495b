"""`placering bench match` runs end to end and reports its figures (never asserted: timing is
measured in the benchmark, not in tests)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from placering.cli import cli


def test_bench_match_reports_figures_for_each_size_and_evaluator():
    r = CliRunner().invoke(cli, ["bench", "match", "--sizes", "40", "--sample", "10", "--budget", "1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["replay_requests"] == 7425
    rows = out["results"]
    assert [row["engine"] for row in rows] == ["durable", "reference", "vectorized"]
    for row in rows:
        assert "error" not in row, row
        assert row["units"] == 40 and row["candidates"] > 0 and row["sample"] >= 10
        assert row["median_ms"] > 0 and row["p99_ms"] >= row["median_ms"]
        assert row["ranked_median_ms"] > 0 and row["ranked_p99_ms"] >= row["ranked_median_ms"]
        assert row["replay_requests"] > 0 and row["replay_rate"] > 0 and row["peak_mb"] > 0
        assert row["replay_projected"] == (row["replay_requests"] < 7425)


def test_bench_match_rejects_bad_sizes():
    r = CliRunner().invoke(cli, ["bench", "match", "--sizes", "a,b"])
    assert r.exit_code == 2 and "--sizes" in r.stderr
