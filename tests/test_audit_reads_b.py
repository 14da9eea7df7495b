"""The yearly audits read without SQLAlchemy (audit/reads_yearly.py, issue 22 item 1): `audit
requests`, `audit direct-procurement`, `audit adherence` and `audit direct-purchases` print, as a table, CSV or JSON, what
the ORM view (audit.views: the server's) prints, on SQLite and PostgreSQL, for every year the
built history spans, and their refusals are the ORM view's."""

from __future__ import annotations

import json
from datetime import date

import pytest

from placering.cli import common
from test_audit_history import audit_history, built_history  # noqa: F401 (fixtures)
from test_audit_history import WIDE, add_request

YEARLY = ("requests", "direct-procurement", "adherence")


@pytest.fixture
def history(audit_history, engine):
    # Requests either side of the turn of a year, with and without a sub-category, another
    # municipality and an insats outside the taxonomy's order of areas.
    for n, (day, insats, sub, requester, municipality) in enumerate((
            (date(2023, 12, 31), "socialt_boende", "akutboende", "Nordost", "Göteborg"),
            (date(2024, 1, 1), "socialt_boende", None, "Hisingen", "Göteborg"),
            (date(2024, 6, 1), "skyddat_boende", "vinr_heder", "Socialtjänsten", "Mölndal"),
            (date(2025, 2, 1), "korttidsboende", "psykisk", "Funktionsstöd", "Göteborg"))):
        add_request(engine, f"R-B-{n}", submitted_on=day, insats=insats, subcategory=sub, requester=requester,
                    municipality=municipality)
    return audit_history


def test_yearly_audits_read_directly_print_what_the_orm_view_prints(history, run, monkeypatch):
    real = common.AppContext.reader
    checked = 0
    for command in YEARLY:
        for year in ("2022", "2023", "2024", "2025", "1999", "kalle"):
            for output in ((), ("--json",), ("--csv",)):
                args = ("audit", command, "--year", year, *output)
                monkeypatch.setattr(common.AppContext, "reader", real)
                read = run(*args, env=WIDE)
                monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
                orm = run(*args, env=WIDE)
                assert (read.exit_code, read.stdout, read.stderr) == (orm.exit_code, orm.stdout, orm.stderr), args
                checked += read.exit_code == 0 and len(read.stdout) > 200
    assert checked >= 24  # answers, not empty ones (28 here)
    for options in (("--year", "2023"), ("--year", "2024"), ("--year", "2025"), ("--year", "2023", "--buyer", "nordost"),
                    ("--year", "2023", "--municipality", "göteborg", "--insats", "socialt_boende"),
                    ("--year", "2024", "--insats", "hvb_barn_unga"), ("--year", "2023", "--municipality", "Ingenstans"),
                    ("--year", "2023", "--insats", "ingen")):
        for output in ((), ("--json",), ("--csv",)):
            args = ("audit", "direct-purchases", *options, *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args, env=WIDE)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args, env=WIDE)
            assert (read.exit_code, read.stdout, read.stderr) == (orm.exit_code, orm.stdout, orm.stderr), args


def test_the_direct_reads_answer_and_give_the_orm_views_documents(history, db_url, engine):
    from placering.audit import reads_yearly, views
    from placering.storage.reads import open_reader

    with open_reader(db_url) as reader:
        for year in (2023, 2024, 2025):
            for name in ("requests", "direct_procurement", "adherence"):
                direct = getattr(reads_yearly, name)(reader, year=year)
                assert direct is not None and direct == getattr(views, name)(engine, year=year), (name, year)
        assert reads_yearly.adherence(reader, year=2023)["not_recommended"]  # the history has some
        assert reads_yearly.direct_procurement(reader, year=2023)["suppliers"]
        assert reads_yearly.requests(reader, year=1999) is None  # the ORM view says what is wrong
        from placering.casework import views as casework_views

        for year, options in ((2023, {}), (2024, {}), (2023, {"buyer": "Nordost", "municipality": "Göteborg"}),
                              (2023, {"insats": "socialt_boende"})):
            direct = reads_yearly.direct_purchases(reader, year=year, **options)
            assert direct is not None and direct == casework_views.direct_purchases(engine, year=year, **options)
        assert reads_yearly.direct_purchases(reader, year=2023)["sums"]
        assert reads_yearly.direct_purchases(reader, year=2023, municipality="Ingenstans") is None


def test_not_executed_read_directly_prints_what_the_orm_view_prints(history, run, db_url, engine, monkeypatch):
    """`audit not-executed` (casework/unexecuted.py's one computation): decisions not executed,
    executed late, interrupted and not resumed, resumed, ended; each output, both ways."""
    from placering.audit import reads_yearly
    from placering.casework import views as casework_views
    from placering.storage.reads import open_reader

    for args in (("R-B-0", "ended", "--on", "2024-03-01", "--reason", "person_request", "--note", "Vill inte"),
                 ("R-B-1", "decided", "--on", "2024-01-20"),
                 ("R-2023-0001", "interrupted", "--on", "2024-01-10"),
                 ("R-2023-0002", "interrupted", "--on", "2024-01-10"), ("R-2023-0002", "resumed", "--on", "2024-02-01")):
        done = run("followup", "decision", *args, "--by", "anna")
        assert done.exit_code == 0, (args, done.output)
    real = common.AppContext.reader
    states = set()
    for day in ("2023-06-30", "2023-12-31", "2024-04-10", "2024-05-10", "2024-09-30", "2025-03-31", "2026-01-01"):
        for output in ((), ("--json",), ("--csv",)):
            args = ("audit", "not-executed", "--as-of", day, *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args, env=WIDE)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args, env=WIDE)
            assert (read.exit_code, read.stdout, read.stderr) == (orm.exit_code, orm.stdout, orm.stderr), args
        with open_reader(db_url) as reader:
            direct = reads_yearly.not_executed(reader, as_of=date.fromisoformat(day))
        assert direct == casework_views.not_executed(engine, as_of=date.fromisoformat(day)), day
        states |= {d["state"] for d in direct["decisions"]}
    assert {"not_executed", "interrupted"} <= states, states


def test_controls_read_directly_print_what_the_orm_view_prints(history, run, db_url, engine, monkeypatch):
    """`audit controls` (audit/figures.py's one computation): controls decided, with checks
    and outcomes, and one still open; each output, both ways."""
    from placering.audit import reads_yearly
    from placering.casework import views as casework_views
    from placering.clock import today
    from placering.storage.reads import open_reader
    from test_audit_history import ORG_OST

    opened = json.loads(run("control", "open", ORG_OST, "--reason", "mediabevakning", "--by", "kvalitet", "--json").stdout)
    cid = str(opened["id"])
    for args in (("check", cid, "visit", "--finding", "besök"), ("check", cid, "finances", "--finding", "svag"),
                 ("decide", cid, "pause", "--note", "brister")):
        done = run("control", *args, "--by", "kvalitet")
        assert done.exit_code == 0, (args, done.output)
    assert run("control", "open", ORG_OST, "--reason", "igen", "--by", "kvalitet").exit_code == 0
    real = common.AppContext.reader
    year = today().year
    for y in (year - 1, year):
        for output in ((), ("--json",), ("--csv",)):
            args = ("audit", "controls", "--year", str(y), *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args, env=WIDE)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args, env=WIDE)
            assert (read.exit_code, read.stdout, read.stderr) == (orm.exit_code, orm.stdout, orm.stderr), args
        with open_reader(db_url) as reader:
            direct = reads_yearly.controls(reader, year=y)
        assert direct == casework_views.controls_year(engine, year=y), y
    assert (direct["carried_out"], direct["paused_or_removed"], direct["with_visit"], direct["open_at_year_end"]) == (
        1, 1, 1, 1)


def test_surveys_read_directly_print_what_the_orm_view_prints(history, run, db_url, engine, monkeypatch):
    """`audit surveys` (casework/surveys.py's one computation): answered, overdue and upcoming
    surveys and the per-unit summary; each output, both ways."""
    from placering.audit import reads_yearly
    from placering.casework import views as casework_views
    from placering.storage.reads import open_reader

    done = run("followup", "survey", "R-2023-0001", "--on", "2024-01-05", "--positive-change", "yes",
               "--care-quality", "bra", "--child-answered", "no", "--by", "anna")
    assert done.exit_code == 0, done.output
    real = common.AppContext.reader
    states = set()
    for day in ("2023-09-01", "2023-12-01", "2024-02-01", "2025-01-01"):
        for output in ((), ("--json",), ("--csv",), ("--summary",), ("--summary", "--csv")):
            args = ("audit", "surveys", "--as-of", day, *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args, env=WIDE)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args, env=WIDE)
            assert (read.exit_code, read.stdout, read.stderr) == (orm.exit_code, orm.stdout, orm.stderr), args
        with open_reader(db_url) as reader:
            direct = reads_yearly.surveys(reader, as_of=date.fromisoformat(day))
        assert direct == casework_views.surveys(engine, as_of=date.fromisoformat(day)), day
        states |= {s["state"] for s in direct["surveys"]}
    assert {"answered", "overdue", "upcoming"} <= states, states


def test_review_show_read_directly_prints_what_the_orm_view_prints(run, tmp_path, db_url, engine, monkeypatch):
    """`review show` (matching/reads.py's review_document, one assembly): a pending review whose
    unit was chosen (a placement waiting for it), a pending one not chosen, an approved one; the
    supplier's latest checks, its direct purchases and the buyer's against the threshold; the
    refusals (not a number, not found) are the ORM view's. Each output, both ways."""
    from placering.matching import views as matching_views
    from placering.matching.reads import review_show
    from placering.storage.reads import open_reader
    from test_matching_support import match_json, request
    from test_review import _setup

    _doc, d0, d1 = _setup(run, tmp_path, "reference")
    d2 = match_json(run, tmp_path, request("R-2"), "reference")
    ok = run("review", "approve", str(d1["review_id"]), "--by", "granskare", "--note", "inget ramavtal hade plats")
    assert ok.exit_code == 0, ok.output
    real = common.AppContext.reader
    ids = [str(d["review_id"]) for d in (d0, d1, d2)]
    for review_id in (*ids, "999", "abc"):
        for output in ((), ("--json",)):
            args = ("review", "show", review_id, *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args, env=WIDE)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args, env=WIDE)
            assert (read.exit_code, read.stdout, read.stderr) == (orm.exit_code, orm.stdout, orm.stderr), args
    with open_reader(db_url) as reader:
        direct = {i: review_show(reader, i) for i in ids}
    for i in ids:
        assert direct[i] is not None and direct[i] == matching_views.review_show(engine, i), i
    assert direct[ids[0]]["placement"]["status"] == "pending_review"
    assert direct[ids[1]]["status"] == "approved" and direct[ids[1]]["decided_at"]
    assert direct[ids[0]]["recommendations"][0]["direct_purchases"]["placements"]
    assert {c["result"] for c in direct[ids[0]]["recommendations"][0]["checks"]} >= {"pass", "unavailable"}


def test_audit_complaints_reads_directly_and_prints_what_the_orm_view_prints(run, tmp_path, db_url, engine,
                                                                              monkeypatch):
    """`audit complaints` per period (issue 20 item 8) through the direct read: the same text,
    CSV and JSON, and refusals, as the ORM view, for each period and range; an outcome or a
    supplier named is the ORM view's (it reads the words people type)."""
    from test_matching_support import load_register, unit

    from placering.casework import views as casework_views
    from placering.storage.reads import open_reader
    from placering.audit import reads_yearly

    load_register(run, tmp_path, unit("U-1"), unit("U-2", insats="socialt_boende", subs=["akutboende"], age=(20, 65)))
    ids = []
    for unit_id, on, categories in (("U-1", "2024-02-01", ("documentation",)),
                                    ("U-1", "2024-05-01", ("treatment", "documentation")),
                                    ("U-2", "2024-08-10", ("delivery",)), ("U-2", "2025-01-15", ("delivery",))):
        args = [a for c in categories for a in ("--category", c)]
        done = run("complaint", "add", unit_id, *args, "--on", on, "--by", "anna", "--json")
        assert done.exit_code == 0, done.output
        ids.append(json.loads(done.stdout)["id"])
    closed = run("complaint", "update", str(ids[2]), "--status", "closed", "--outcome", "platsbrist_sis",
                 "--by", "spinks-jurist")
    assert closed.exit_code == 0, closed.output
    real = common.AppContext.reader
    for options in ((), ("--period", "half"), ("--period", "month", "--since", "2024-03-01"),
                    ("--until", "2024-12-31", "--period", "quarter"), ("--period", "vecka"),
                    ("--since", "2025-01-01", "--until", "2024-01-01"), ("--outcome", "platsbrist_sis")):
        for output in ((), ("--json",), ("--csv",)):
            args = ("audit", "complaints", *options, *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args, env=WIDE)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args, env=WIDE)
            assert (read.exit_code, read.stdout, read.stderr) == (orm.exit_code, orm.stdout, orm.stderr), args
    with open_reader(db_url) as reader:
        for options in ({}, {"period": "half"}, {"period": "month", "since": date(2024, 3, 1)},
                        {"until": date(2024, 12, 31), "period": "quarter"}):
            direct = reads_yearly.complaints_per_period(reader, **options)
            assert direct is not None and direct == casework_views.complaints_per_period(engine, **options), options
        whole = reads_yearly.complaints_per_period(reader, period="year")
        assert [(p["period"], p["complaints"], p["platsbrist_sis"]) for p in whole["periods"]] == [("2024", 3, 1),
                                                                                                    ("2025", 1, 0)]
        assert whole["complaints"][1]["categories"] == ["treatment", "documentation"]
        assert reads_yearly.complaints_per_period(reader, outcome="platsbrist_sis") is None  # the ORM view's
