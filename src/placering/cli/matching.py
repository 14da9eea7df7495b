"""`placering match`, `placering request …` and `placering review …`: the handlers' commands.

Only parsing and formatting live here; the work is in `placering.matching`.
"""

from __future__ import annotations

from datetime import datetime

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from .. import boundary
from ..labels import label
from . import cli
from .params import Code
from .common import DECIMAL
from ..display import fmt_money, fmt_number
from .messages import said
from ..register.whys import check_note
from .common import column_header
from .remote import segment
from .common import (TABLE_ROWS, CliError, Output, PlaceringGroup, Section, app, by_option, call, reader_option, echo, echo_wrapped,
                     json_option, local_only, output_options, parse_date,
                     print_json, print_table, rules_option, to_jsonable, wants_json)
from ..errors import os_reason
from ..i18n import Number, msg, text
from ..i18n import text as _text  # next_steps has a local `text`

ENGINE_OPTION = click.option(
    "--engine",
    type=click.Choice(["durable", "reference", "vectorized"]),
    default="vectorized",
    show_default=True,
    help="Rules evaluator (same outcomes, reasons and flags): the columnar numpy evaluator (the default: "
    "fastest as a whole process at every register size, see the README's figures), durable-rules, or the "
    "plain-Python reference evaluator.",
)
LIMIT_OPTION = click.option(
    "--limit", type=boundary.WholeParam(1), default=None,
    help="How many recommendations (default: the ranking policy's number, 3).",
)
EXPLAIN_OPTION = click.option(
    "--explain", "explain_unit", metavar="UNIT_ID",
    help="Say where this unit stands: recommended (rank), eligible below the cut, held back, or "
    "excluded/unevaluable and by which rules. With --json, prints that explanation.",
)

PROGRESS_FROM = 20  # requests; a progress bar on a terminal's stderr for longer batches


def _fmt_num(v: Any) -> str:
    """A ranking key's value as a person reads it: the locale's numbers (`11,1`), – for none."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return fmt_number(v)
    if isinstance(v, (int, float)):
        return fmt_number(round(v, 1) if isinstance(v, float) else v)
    return str(v)


def _key_text(key: str, value: Any) -> str:
    if key == "route":
        return f"{label('route', 'history_field')} {label(value, 'route').lower()}"
    return f"{column_header(key).lower()} {_fmt_num(value)}"


def _source_text(source: Any) -> str:
    """The source by its document's title and section (placering.sources), never a file."""
    from ..sources import cite

    return cite(source)


def _values_text(values: dict[str, Any] | None) -> str:
    """The rule's facts in words (labels.fact_text): never Python's `permit.exists=True`."""
    from ..labels import fact_text

    return fact_text({k: v for k, v in (values or {}).items() if not isinstance(v, dict)})


def _reason_line(r: dict[str, Any]) -> str:
    route = (f" [{label(r['route'], 'route')}{' ' + r['agreement_id'] if r.get('agreement_id') else ''}]"
             if r.get("route") else "")
    values = _values_text(r.get("values"))
    src = _source_text(r.get("source"))
    code = label(r["code"], "exclusion") if r["code"] in _EXCLUSION_LABELS() else label(r["code"], "flag")
    return (f"{code}{route} {r['rule']}: {r['message']}"
            + (f" ({values})" if values else "") + (" — " + text("cli.out.source_cited", source=src) if src else ""))


def _reason_label(reason: str) -> str:
    """A flag's reason in words (why direct procurement: `no_eligible_framework_unit`), else as given."""
    from ..labels import has_label

    return label(reason, "direct_procurement_reason").lower() if has_label(reason, "direct_procurement_reason") \
        else reason


def _EXCLUSION_LABELS() -> dict[str, str]:
    from ..labels import catalogue

    return catalogue()["exclusion"]


def _print_decision(doc: dict[str, Any], actor: str | None = None) -> None:
    sub = f" / {label(doc['subcategory'], 'subcategory')}" if doc.get("subcategory") else ""
    echo_wrapped(text("cli.out.decision_head", request=doc["request_id"], insats=f"{label(doc['insats'], 'insats')}{sub}",
                      seq=doc.get("seq", "–"), rules=doc["rules_version"], on=doc["evaluated_on"]))
    sort_keys = [k["key"] for k in doc["ranking"]["sort_keys"]]
    columns = [("rank", "Rank"), ("unit_id", "Unit"), ("name", "Name"), ("municipality", "Municipality"),
               ("route", "Route", "route")]
    columns += [(f"key_{k}", k) for k in sort_keys if k != "unit_id"]
    columns += [("flag_codes", "Flags", "flag")]
    rows = []
    for r in doc["recommendations"]:
        row = dict(r, flag_codes=[f["code"] for f in r.get("flags", [])])
        for k in sort_keys:
            v = r["keys"].get(k)
            row[f"key_{k}"] = round(v, 1) if k == "distance_km" and isinstance(v, float) else v
        rows.append(row)
    order = ", ".join(f"{column_header(k['key']).lower()} "
                      f"{text('cli.out.descending') if k['order'] == 'desc' else text('cli.out.ascending')}"
                      for k in doc["ranking"]["sort_keys"])
    # The ranking said as a sentence above the table: as a table title it wrapped at the table's
    # width (81 of 100 columns) and padded each line with spaces.
    network = doc["ranking"].get("network")
    if network:  # the first step of the priority order (sources/000 l. 432-436)
        steps = [text("cli.out.own_network", step=label(network, "network_step").lower())]
        steps += [label(r, "route").lower() for r in doc["ranking"].get("route_order", [])]
        echo_wrapped(text("cli.out.priority_order", steps=", ".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))))
    if rows:
        echo_wrapped(text("cli.out.recommended_order", order=order))
    print_table(rows, columns, empty=text("cli.out.recommended_none"))
    if doc["flags"]:
        echo(text("cli.out.flags"))
        for f in doc["flags"]:
            unit = f" {f['unit_id']}" if f.get("unit_id") else ""
            reason = f" ({_reason_label(f['reason'])})" if f.get("reason") else ""
            src = _source_text(f.get("source"))
            echo_wrapped(f"  {label(f['code'], 'flag')}{unit}{reason}: {f['message']} "
                         f"[{f['rule']}{'; ' + src if src else ''}]", indent="    ")
    review = text("cli.out.review_part", id=doc["review_id"]) if doc.get("review_id") else ""
    echo(text("cli.out.review_required", answer=text("cli.out.yes") + review if doc["review_required"]
              else text("cli.out.no")))
    if doc.get("unevaluable"):
        echo(text("cli.out.request_rules_unevaluable"))
        for r in doc["unevaluable"]:
            echo("  " + _reason_line(r))
    from ..matching.compact import excluded_count, summary as exclusion_summary

    summary = exclusion_summary(doc)
    if summary:
        _print_excluded(doc)
    else:
        echo(text("cli.out.excluded_none"))
    from ..matching.compact import count_of

    if count_of(doc["below_cut"]):
        echo(text("cli.out.below_cut", count=count_of(doc["below_cut"])))
    if doc.get("declined_units"):
        echo(text("cli.out.declined_left_out", units=", ".join(doc["declined_units"])))
    _next_steps_after_decision(doc, actor)


EXCLUDED_UNITS_SHOWN = 12  # ids per reason in the table; --json (or --explain) has them all


def _print_excluded(doc: dict[str, Any]) -> None:
    """The excluded units grouped by reason: how many, and which (the first ones)."""
    from ..matching.compact import excluded_by_reason, excluded_count

    rows = []
    for g in excluded_by_reason(doc):
        units = g["units"]
        if units is None:
            shown = text("cli.out.explain_one_unit")
        else:
            shown = ", ".join(units[:EXCLUDED_UNITS_SHOWN])
            if len(units) > EXCLUDED_UNITS_SHOWN:
                shown += text("cli.out.and_more", more=Number(len(units) - EXCLUDED_UNITS_SHOWN))
        rows.append({"reason": g["code"], "count": g["count"], "units": shown})
    n = excluded_count(doc)
    echo(text("excluded.heading", n=n, count=fmt_number(n)))
    print_table(rows, [("reason", "Skäl", "exclusion"), ("count", "Enheter"), ("units", "Vilka")])


_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+")  # \w takes å, ä, ö: 'handläggare' needs no quotes


def _quote(word: str) -> str:
    return word if _SHELL_SAFE.fullmatch(word) else shlex.quote(word)


def _cmd(*parts: Any) -> str:
    """A command line as the user can paste it (quoted where the shell needs it)."""
    return " ".join(["placering", *(_quote(str(p)) for p in parts)])


def _by(actor: str | None) -> list[str]:
    return ["--by", actor] if actor else ["--by", text("cli.out.placeholder_name")]


def next_steps(lines: list[str]) -> None:
    """What the user can do now, as commands that run as printed (one per line, never wrapped:
    the comment after a command is left out when the line would not fit the terminal)."""
    if lines:
        from .common import text_width

        width = text_width()
        echo(_text("cli.out.next_steps"))
        for line in lines:
            text = f"  {line}"
            if len(text) > width and "   # " in text:
                text = text.split("   # ")[0]
            echo(text)


def _next_steps_after_decision(doc: dict[str, Any], actor: str | None) -> None:
    rid = doc["request_id"]
    recs = doc["recommendations"]
    lines = []
    if recs:
        first = recs[0]["unit_id"]
        lines.append(_cmd("request", "choose", rid, first, *_by(actor)) + "   # " + text("cli.out.next_choose"))
        lines.append(_cmd("request", "decline", rid, first, "--reason", text("cli.out.no_place"), *_by(actor))
                     + "   # " + text("cli.out.next_decline"))
        lines.append(_cmd("request", "show", rid, "--explain", first) + "   # " + text("cli.out.next_why"))
    if doc.get("review_id"):
        lines.append(_cmd("review", "show", doc["review_id"]) + "   # " + text("cli.out.next_review"))
    if not recs:
        lines.append(_cmd("request", "show", rid, "--explain", text("cli.out.placeholder_unit")) + "   # "
                     + text("cli.out.next_why_not"))
    next_steps(lines)


def _print_explain(ex: dict[str, Any]) -> None:
    seq = ex.get("seq")
    head = (text("cli.out.explain_head", unit=ex["unit_id"], request=ex["request_id"]) + " "
            + (text("cli.out.explain_seq", seq=seq) if seq is not None else text("cli.out.explain_now")) + " ")
    status = ex["status"]
    if status in ("recommended", "below_cut"):
        keys = ", ".join(_key_text(k, v) for k, v in ex["keys"].items() if k not in ("rank",))
        route = label(ex["route"], "route")
        if status == "recommended":
            echo(head + text("cli.out.explain_recommended", rank=ex["rank"], route=route))
        else:
            echo(head + text("cli.out.explain_below_cut", rank=ex["rank"], route=route, cut=ex["cut"]))
        echo_wrapped("  " + text("cli.out.explain_ranked_by", keys=keys), indent="    ")
        for f in ex.get("flags", []):
            echo_wrapped("  " + text("cli.out.explain_flag") + " " + _reason_line(f), indent="    ")
        for o in ex.get("other_routes", []):
            state = text("cli.out.also_possible") if o["eligible"] else text("cli.out.not_possible")
            echo("  " + text("cli.out.other_route", route=label(o["route"], "route"), state=state))
            for r in o.get("reasons", []) + o.get("unevaluable", []):
                echo_wrapped("    " + _reason_line(r), indent="      ")
    elif status == "held_back":
        echo(head + text("cli.out.explain_held_back", route=label(ex["eligible"]["route"], "route")))
        for r in ex["reasons"]:
            echo_wrapped("  " + _reason_line(r), indent="    ")
    elif status in ("excluded", "unevaluable"):
        echo(head + (text("cli.out.explain_excluded") if status == "excluded" else text("cli.out.explain_unevaluable")))
        for r in ex.get("reasons", []):
            echo_wrapped("  " + _reason_line(r), indent="    ")
        for r in ex.get("unevaluable", []):
            missing = r.get("values", {}).get("missing")
            echo_wrapped("  " + text("cli.out.could_not_evaluate", reason=_reason_line(r))
                         + (" " + text("cli.out.missing", missing=missing) if missing else ""), indent="    ")
    else:
        echo(head + text("cli.out.explain_no_candidate"))


class _NoProgress:
    """What `_progress` gives when no bar is shown: importing rich's progress costs a single
    match about 0.1 s."""

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def advance(self, task: int) -> None:
        return None


def _progress(total: int):
    """A progress bar on stderr for long runs on a terminal (never on stdout)."""
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        return _NoProgress()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(file=sys.stderr)
    return Progress(TextColumn("matching"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, disable=not console.is_terminal, transient=True)


COMMIT_EVERY = 200  # requests per committed chunk of a batch (matching/views.py)


@cli.command()
@click.argument("request_file", metavar="REQUEST.json|REQUESTS.jsonl", type=click.Path(dir_okay=False, path_type=Path))
@LIMIT_OPTION
@EXPLAIN_OPTION
@ENGINE_OPTION
@rules_option
@click.option("--full", is_flag=True,
              help="Print whole decision documents, with --json every excluded unit with its reasons "
              "(always for one request; a batch prints one summary per request).")
@click.option("--commit-every", type=click.IntRange(min=1), default=COMMIT_EVERY, show_default=True,
              help="A batch is committed in chunks of this many requests; run the file again to finish "
              "a batch that was stopped.")
@click.option("--all", "all_rows", is_flag=True,
              help=f"A batch's table lists every request (by default the first {TABLE_ROWS} and the totals).")
@by_option
@json_option
def match(request_file: Path, limit: int | None, explain_unit: str | None, engine: str, rules_dir: Path | None,
          full: bool, commit_every: int, all_rows: bool, actor: str | None, json_output: bool) -> None:
    """Decide placement requests: ranked recommendations, flags and every exclusion; stored.

    REQUEST.json holds one request (CONTRACT.md); a JSON-lines file holds one per line. Every
    request is validated first: one bad request stores nothing. A request already decided is
    not decided again: its stored decision is shown (use 'request rematch' for a new one), so
    running a batch file twice adds nothing, and running it again after it was stopped
    finishes it (it commits every --commit-every requests). A request_id stored with different
    content is an error. --explain UNIT_ID says where a unit stands and stores nothing.
    """
    as_json = wants_json(json_output)
    local_only("--rules", rules_dir)
    try:
        data = request_file.read_bytes()
    except OSError as exc:
        from ..errors import Problem, ValidationError, os_reason

        raise ValidationError(Problem(msg("file.cannot_read", reason=os_reason(exc)), file=str(request_file))) from None
    name = str(request_file)
    # Whole documents for --json of one request (or --full); as stored for a person (their
    # excluded units counted, not listed); none for a batch's --json (its summaries).
    total = sum(1 for line in data.splitlines() if line.lstrip().startswith(b"{"))  # requests, about
    # One request read by a person: its excluded units listed by reason (issue 19), their ids
    # only (the explanations are --json's and --explain's).
    documents_as = "full" if as_json else "grouped" if total == 1 else "stored"
    if app().client() is not None:
        answer = call("", http=("POST", "/requests/match",
                                {"name": name, "limit": limit, "explain": explain_unit, "engine": engine,
                                 "commit_every": commit_every, "documents": documents_as}, data))
        _print_match(answer, as_json=as_json, full=full, all_rows=all_rows, actor=actor)
        return
    with _progress(total) as progress:
        task = progress.add_task("match", total=total)
        answer = call("matching.views:match", data, name, actor=actor, evaluator=engine, rules_dir=rules_dir,
                      limit=limit, explain_unit=explain_unit, commit_every=commit_every, documents_as=documents_as,
                      progress=lambda: progress.advance(task), http=())
    _print_match(answer, as_json=as_json, full=full, all_rows=all_rows, actor=actor)


def _print_match(answer: dict[str, Any], *, as_json: bool, full: bool, all_rows: bool, actor: str | None) -> None:
    if "explain" in answer:
        print_json(answer["explain"]) if as_json else _print_explain(answer["explain"])
        return
    results, single = answer["results"], answer["single"]
    if as_json and not (single or full):
        print_json(results)
        return
    if not (single or full):
        _print_batch(results, all_rows=all_rows)
        return
    docs = answer["documents"]
    if as_json:
        print_json(next(iter(docs))) if single else _print_json_list(docs)
        return
    for i, (doc, s) in enumerate(zip(docs, results)):
        if i:
            echo("")
        if not s["decided_now"]:
            echo_wrapped(text("cli.out.decided_before", seq=doc["seq"],
                              command=_cmd("request", "rematch", doc["request_id"], *_by(actor))))
        _print_decision(doc, actor)


def _print_json_list(documents) -> None:
    """Print documents as one JSON array, one at a time (they need not all fit in memory)."""
    out = sys.stdout  # CliRunner and a real terminal both swap sys.stdout
    out.write("[")
    first = True
    for doc in documents:
        text = json.dumps(to_jsonable(doc), ensure_ascii=False, indent=2)
        out.write(("\n" if first else ",\n") + "\n".join("  " + x for x in text.splitlines()))
        first = False
    out.write("\n]\n" if not first else "]\n")
    out.flush()


def _print_batch(documents: list[dict[str, Any]], *, all_rows: bool = False) -> None:
    # A year's batch is thousands of rows: the table shows the first ones and the totals below
    # say what the whole batch did (--all lists every row, --json gives every summary).
    rows = [{
        "request_id": d["request_id"], "insats": d["insats"], "seq": d["seq"],
        "units": [f"{r['unit_id']} ({label(r['route'], 'route')})" for r in d["recommendations"]],
        "flags": sorted({f["code"] for f in d["flags"]}), "review": text("cli.out.yes") if d["review_required"] else "",
        "now": "" if d["decided_now"] else text("cli.out.decided_earlier"),
    } for d in documents]
    new = sum(1 for d in documents if d["decided_now"])
    print_table(rows, [("request_id", "Request"), ("insats", "Insats", "insats"), ("seq", "Decision"),
                       ("units", "Recommended"), ("flags", "Flags", "flag"), ("review", "Review"), ("now", "")],
                title=text("cli.out.batch_title", n=len(documents), count=Number(len(documents)), new=Number(new),
                           earlier=Number(len(documents) - new)),
                limit=None if all_rows else TABLE_ROWS, hint=text("cli.out.batch_hint"))
    review = sum(1 for d in documents if d["review_required"])
    none = sum(1 for d in documents if not d["recommendations"])
    echo(text("cli.out.batch_totals", review=review, none=none))


@cli.group(cls=PlaceringGroup)
def request() -> None:
    """Stored placement requests: show, decline, choose, rematch, replay, schema."""


@request.command("schema")
def request_schema_cmd() -> None:
    """Print the JSON Schema of a placement request (always JSON)."""
    from ..matching.request import request_schema

    print_json(request_schema())


@request.command("show")
@click.argument("request_id")
@click.option("--show-protected", is_flag=True,
              help="Also print a protected person's home position (hidden by default).")
@click.option("--explain", "explain_unit", metavar="UNIT_ID",
              help="Say where this unit stood in the latest decision (nothing is decided again).")
@reader_option
@json_option
def request_show(request_id: str, show_protected: bool, explain_unit: str | None, actor: str | None,
                 json_output: bool) -> None:
    """A stored request with all its decisions, declines, reviews and the placement. Reading a
    protected person's request is logged under --by (audit protected-reads)."""
    path = f"/requests/{segment(request_id)}"
    if explain_unit:  # the latest decision only: no need to rebuild every decision's excluded list
        # from the stored decision where it answers (matching/reads.py), else the ORM view
        ex = call("matching.reads:request_explain", request_id, explain_unit, reader=actor,
                  http=("GET", f"{path}/explain/{segment(explain_unit)}"))
        print_json(ex) if wants_json(json_output) else _print_explain(ex)
        return
    # --json: every decision whole; a person's table: the latest decision's excluded units by
    # reason (issue 19), grouped without building each unit's explanation (issue 22)
    as_json = wants_json(json_output)
    full = True if as_json else "grouped"
    # read without SQLAlchemy where it can (matching/reads.py), else the ORM view
    data = call("matching.reads:request_show", request_id, show_protected=show_protected, full=full, reader=actor,
                http=("GET", path, {"show_protected": show_protected, "compact": False, "grouped": not as_json}))
    if wants_json(json_output):
        print_json(data)
        return
    req = data["request"]
    person = req["person"]
    echo_wrapped(text("cli.out.request_head", request=req["request_id"], on=req["submitted_on"], by=req["requester"],
                      municipality=req["municipality"], registered_by=data["submitted_by"]))
    insats = label(req["insats"], "insats") + (f" / {label(req['subcategory'], 'subcategory')}"
                                               if req.get("subcategory") else "")
    echo_wrapped("  " + text("cli.out.request_line", insats=insats, start=req["start_on"],
                             urgency=label(req["urgency"], "urgency").lower(), basis=req["legal_basis"],
                             age=person["age"], gender=label(person["gender"], "gender"),
                             needs=", ".join(label(n, "target_group") for n in person["needs"]) or "–",
                             protected=text("cli.out.protected_identity") if person.get("protected_identity") else ""),
                 indent="    ")
    rows = [{
        "seq": d["seq"], "evaluated_on": d["evaluated_on"], "rules_version": d["rules_version"],
        "units": [f"{r['unit_id']} ({label(r['route'], 'route')})" for r in d["recommendations"]],
        "flags": sorted({f["code"] for f in d["flags"]}),
        "review": f"{d['review']['id']} {label(d['review']['status'], 'review_status')}" if d.get("review") else "",
        "by": d.get("decided_by"),
    } for d in data["decisions"]]
    print_table(rows, [("seq", "Decision"), ("evaluated_on", "Evaluated on"), ("rules_version", "Rules"),
                       ("units", "Recommended"), ("flags", "Flags", "flag"), ("review", "Review"), ("by", "By")],
                title=text("cli.out.decisions_title"), empty=text("cli.out.no_decision"))
    if data["decisions"]:
        latest = data["decisions"][-1]
        if latest.get("excluded"):
            echo(text("cli.out.decision_seq", seq=latest["seq"]))
            _print_excluded(latest)
    # A decline's time as Swedish time (stored UTC), never the raw timestamp.
    declines = [dict(d, at=datetime.fromisoformat(d["at"]) if isinstance(d.get("at"), str) else d.get("at"))
                for d in data["declines"]]
    print_table(declines, [("unit_id", "Unit"), ("reason", "Reason"), ("by", "By"), ("at", "At")],
                title=text("cli.out.declines_title"))
    p = data["placement"]
    if p:
        echo_wrapped(text("cli.out.placement_line", unit=p["unit_id"], route=label(p["route"], "route"),
                          agreement=f" ({p['agreement_id']})" if p.get("agreement_id") else "",
                          price=fmt_money(p["daily_price"]), start=p["start_on"],
                          end=text("cli.out.placement_until", end=p["end_on"]) if p.get("end_on")
                          else text("cli.out.placement_ongoing"), by=p["by"],
                          not_recommended="" if p["recommended"]
                          else text("cli.out.placement_not_recommended", reason=p["reason"])))
    else:
        echo(text("cli.out.no_placement"))


@request.command("decline")
@click.argument("request_id")
@click.argument("unit_id")
@click.option("--reason", required=True, type=boundary.NOTE, help="Why the unit said no.")
@by_option
@json_option
def request_decline(request_id: str, unit_id: str, reason: str, actor: str | None, json_output: bool) -> None:
    """Record that a unit said no; `request rematch` (or `match` again) leaves it out."""
    out = call("matching.choice:decline", request_id, unit_id, reason=reason, actor=actor,
               http=("POST", f"/requests/{segment(request_id)}/decline", {}, {"unit_id": unit_id, "reason": reason}))
    if wants_json(json_output):
        print_json(out)
    else:
        echo(text("cli.out.declined", unit=out["unit_id"], request=request_id, reason=out["reason"]))
        next_steps([_cmd("request", "rematch", request_id, *_by(out["by"])) + "   # " + text("cli.out.next_rematch")])


@request.command("rematch")
@click.argument("request_id")
@LIMIT_OPTION
@EXPLAIN_OPTION
@ENGINE_OPTION
@rules_option
@by_option
@json_option
def request_rematch(request_id: str, limit: int | None, explain_unit: str | None, engine: str,
                    rules_dir: Path | None, actor: str | None, json_output: bool) -> None:
    """Decide a stored request again (a new decision), leaving out the units that declined."""
    local_only("--rules", rules_dir)
    as_json = wants_json(json_output)
    doc = call("matching.views:rematch", request_id, actor=actor, evaluator=engine, rules_dir=rules_dir, limit=limit,
               explain_unit=explain_unit, full=as_json,
               http=("POST", f"/requests/{segment(request_id)}/rematch",
                     {"limit": limit, "explain": explain_unit, "engine": engine, "compact": not as_json}, {}))
    if explain_unit:
        print_json(doc) if as_json else _print_explain(doc)
    elif as_json:
        print_json(doc)
    else:
        _print_decision(doc, actor)


@request.command("grant")
@click.argument("request_id")
@click.option("--to", "reader", required=True, help="The handler (login or name) given access to the protected case.")
@click.option("--from", "valid_from", help="First day of access (YYYY-MM-DD; default today).")
@click.option("--until", "valid_to", required=True, help="Last day of access (YYYY-MM-DD).")
@by_option
@json_option
def request_grant(request_id: str, reader: str, valid_from: str | None, valid_to: str, actor: str | None,
                  json_output: bool) -> None:
    """Time-limited access to a protected case: once a request has a grant, only the handlers
    granted access may read it, each within its days ('behörighet under en begränsad tid',
    sources/003 l. 349-351)."""
    from ..display import today

    start = parse_date(valid_from, "--from") or today()
    end = parse_date(valid_to, "--until")
    out = call("access.protected_cases:grant_view", request_id, reader=reader, valid_from=start, valid_to=end,
               actor=actor, http=("POST", f"/requests/{segment(request_id)}/grants", {},
                                  {"reader": reader, "valid_from": start, "valid_to": end}))
    if wants_json(json_output):
        print_json(out)
    else:
        echo(text("cli.out.protected_granted", reader=out["reader"], request=out["request_id"],
                  valid_from=out["valid_from"], valid_to=out["valid_to"]))


@request.command("choose")
@click.argument("request_id")
@click.argument("unit_id")
@click.option("--reason", type=boundary.NOTE, help="Why; required when the unit was not recommended in the latest decision.")
@click.option("--special-reason", type=boundary.NOTE, help="The special reasons (särskilda skäl): required for stödboende for a "
              "16- or 17-year-old.")
@click.option("--on", "on", help="The day of choosing (YYYY-MM-DD; default today): the unit is checked again "
              "against the register and rules of that day.")
@click.option("--negotiated-price", "negotiated_price", type=DECIMAL,
              help="The daily price negotiated with the supplier (direct procurement); required with --reason for a "
              "unit whose price the price model does not recommend.")
@click.option("--rules", "rules_path", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Rules directory (default: the current rules).")
@by_option
@json_option
def request_choose(request_id: str, unit_id: str, reason: str | None, special_reason: str | None, on: str | None,
                   negotiated_price: float | None, rules_path: Path | None, actor: str | None,
                   json_output: bool) -> None:
    """The handler's choice: create the placement (unit, route, agreement, price, start).

    A unit recommended in the latest decision needs no reason; one that was eligible but not
    recommended (below the cut, or held back as direct procurement) needs --reason. A unit
    that was excluded, unevaluable or declined cannot be chosen. The unit is checked again on
    the day of choosing (status, agreement, permit, age, capacity …) and refused with the
    reasons if it is no longer eligible; the placement takes its places at the unit. A
    direct-procurement placement waits for an approved review (status pending_review).
    """
    on_d = parse_date(on, "--on")
    local_only("--rules", rules_path)
    fields = {"reason": reason, "special_reason": special_reason, "on": on_d, "negotiated_price": negotiated_price}
    out = call("matching.choice:choose", request_id, unit_id, actor=actor, rules_dir=rules_path, **fields,
               http=("POST", f"/requests/{segment(request_id)}/choose", {}, {"unit_id": unit_id, **fields}))
    if wants_json(json_output):
        print_json(out)
    else:
        echo(text("cli.out.placement_chosen", request=request_id, unit=out["unit_id"],
                  route=label(out["route"], "route")
                  + (f" ({out['agreement_id']})" if out.get("agreement_id") else ""),
                  price=fmt_money(out["daily_price"]), start=out["start_on"])
             + ("" if out["recommended"] else " " + text("cli.out.not_recommended_kept")) + "."
             + (" " + text("cli.out.awaiting_review") if out["status"] == "pending_review" else ""))
        steps = [_cmd("request", "show", request_id) + "   # " + text("cli.out.next_show_request")]
        if out["status"] == "pending_review":
            steps.insert(0, _cmd("review", "list", "--status", "pending") + "   # " + text("cli.out.next_review_pending"))
        steps.append(_cmd("request", "end", request_id, "--on", text("cli.out.placeholder_date"),
                          *_by(actor or out.get("by"))) + "   # " + text("cli.out.next_end"))
        next_steps(steps)


@request.command("end")
@click.argument("request_id")
@click.option("--on", "on", required=True, help="Last day of the placement (YYYY-MM-DD).")
@click.option("--reason", type=boundary.NOTE, help="Why it ended, e.g. omplacering or utskrivning (no names).")
@by_option
@json_option
def request_end(request_id: str, on: str, reason: str | None, actor: str | None, json_output: bool) -> None:
    """End a placement: after this day it is no longer active (audits read it)."""
    end_on = parse_date(on, "--on")
    out = call("matching.choice:end", request_id, end_on=end_on, actor=actor, reason=reason,
               http=("POST", f"/requests/{segment(request_id)}/end", {}, {"on": end_on, "reason": reason}))
    if wants_json(json_output):
        print_json(out)
    else:
        echo(text("cli.out.placement_ended", request=request_id, unit=out["unit_id"], on=out["end_on"]))


# What a replayed difference is, by its code: the message id.
_CHANGES = {"entered": "cli.out.change.entered", "left": "cli.out.change.left", "rank": "cli.out.change.rank",
            "flag_added": "cli.out.change.flag_added", "flag_removed": "cli.out.change.flag_removed",
            "review": "cli.out.change.review"}


@request.command("replay")
@click.option("--rules", "rules_path", required=True, metavar="DIR",
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The candidate rules directory, compared with the current rules (PLACERING_RULES_DIR or "
              "the project's rules/).")
@click.option("--since", metavar="DATE", help="Only requests submitted on or after this date (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only requests submitted on or before this date (YYYY-MM-DD).")
@click.option("--year", type=boundary.WholeParam(1900), help="Only requests submitted in this year.")
@ENGINE_OPTION
@output_options
def request_replay(rules_path: Path, since: str | None, until: str | None, year: int | None, engine: str,
                   out) -> None:
    """What a rule change would do: decide every stored request with the current rules and with
    the candidate rules (--rules DIR) on the same register state, and list each difference
    (request, unit, rank before and after, the rules and reasons), with a summary per rule.
    Stores nothing.

    Each request is decided on its own date, leaving out the units that declined it, with the
    number of recommendations it asked for; register changes since it was decided do not show.
    """
    since_d, until_d = parse_date(since, "--since"), parse_date(until, "--until")
    if year is not None:
        if since_d or until_d:
            raise CliError(msg("cli.year_or_since_until"), 2)
        from datetime import date as _date

        since_d, until_d = _date(year, 1, 1), _date(year, 12, 31)
    http = None
    if app().client() is not None:  # the candidate rules go to the server as files
        http = ("POST", "/requests/replay", {}, {"files": _rule_files(rules_path), "rules_dir": str(rules_path),
                                                 "engine": engine, "since": since_d, "until": until_d})
    result = call("matching.replay:replay_view", rules_path, engine=engine, since=since_d, until=until_d,
                  http=http or ())
    rows = [{**d, "change_label": text(_CHANGES[d["change"]]) if d["change"] in _CHANGES else d["change"],
             "rules": ", ".join(d["rules"]),
             "codes": ", ".join(r["code"] or "" for r in d["reasons"]),
             "reasons": "; ".join(r["message"] or "" for r in d["reasons"])} for d in result["differences"]]

    def header() -> None:
        echo(text("cli.out.replayed", requests=result["requests"], revision=result["register_revision"],
                  current=result["current"]["rules_version"], candidate=result["candidate"]["rules_version"],
                  dir=result["candidate"]["rules_dir"], changed=result["changed"], unchanged=result["unchanged"]))

    out.emit(result, [
        Section("summary", text("cli.out.replay_per_rule"), result["summary"],
                [("rule", "Regel"), ("requests", "Förfrågningar"), ("entered", "Rekommenderas nu"),
                 ("left", "Inte längre"), ("rank", "Ny rang"), ("flag_added", "Ny flagga"),
                 ("flag_removed", "Flagga borta"), ("review", "Granskning")], empty=text("cli.out.replay_no_changes")),
        Section("differences", text("cli.out.replay_differences"), rows,
                [("request_id", "Förfrågan"), ("unit_id", "Enhet"), ("change_label", "Ändring"),
                 ("old_rank", "Rang nu"), ("new_rank", "Rang med kandidaten"), ("rules", "Regler"),
                 ("reasons", "Skäl")],
                csv_columns=["request_id", "unit_id", "change", "old_rank", "new_rank", "rules", "codes", "reasons"],
                empty=text("cli.out.replay_no_difference")),
    ], before=header)


def _rule_files(directory: Path) -> dict[str, str]:
    """A rules directory's text files (path inside it → text), to send to the server."""
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not any(part.startswith(".") or part == "__pycache__"
                                      for part in path.relative_to(directory).parts):
            try:
                files[path.relative_to(directory).as_posix()] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = os_reason(exc) if isinstance(exc, OSError) else msg("file.not_utf8", byte=f"0x{exc.object[exc.start]:02X}", offset=exc.start)
                raise CliError(msg("cli.rules_file_unreadable", file=str(path), reason=reason), 2) from None
    return files


# --------------------------------------------------------------------------------------------
# review
# --------------------------------------------------------------------------------------------


@cli.group(cls=PlaceringGroup)
def review() -> None:
    """The direct-procurement review queue: list, show, approve, reject."""


@review.command("list")
@click.option("--status", type=Code("review_status", ["pending", "approved", "rejected"]),
              help="Only reviews with this status (code or label).")
@output_options
def review_list(status: str | None, out: Output) -> None:
    """Reviews of direct-procurement decisions, oldest first."""
    rows = call("matching.reads:review_list", status=status, http=("GET", "/reviews", {"status": status}))
    out.listing(rows, [("id", "Review"), ("status", "Status", "review_status"), ("request_id", "Request"),
                       ("insats", "Insats", "insats"), ("submitted_on", "Submitted"), ("seq", "Decision"),
                       ("reason", "Why direct", "direct_procurement_reason"), ("units", "Units"), ("reviewer", "Reviewer"),
                       ("note", "Note")],
                title=text("cli.out.reviews_title"), empty=text("cli.out.no_reviews"))


@review.command("show")
@click.argument("review_id")
@json_option
def review_show(review_id: str, json_output: bool) -> None:
    """One review: the request, the direct-procurement units, why no preferred unit, price
    against the reference, supplier checks and this year's direct purchases vs the threshold."""
    data = call("matching.reads:review_show", review_id, http=("GET", f"/reviews/{segment(review_id)}"))
    if wants_json(json_output):
        print_json(data)
        return
    req = data["request"]
    by = " " + text("cli.out.review_by", reviewer=data["reviewer"], note=data["note"]) if data["reviewer"] else ""
    echo_wrapped(text("cli.out.review_head", id=data["id"], status=label(data["status"], "review_status") + by,
                      request=req["request_id"], seq=data["decision"]["seq"]))
    sub = f" / {label(req['subcategory'], 'subcategory')}" if req.get("subcategory") else ""
    needs = ", ".join(label(n, "target_group") for n in req["needs"]) or "–"
    echo_wrapped("  " + text("cli.out.review_request_line", insats=label(req["insats"], "insats"), sub=sub,
                             municipality=req["municipality"], requester=req["requester"], start=req["start_on"],
                             urgency=label(req["urgency"], "urgency").lower(), age=req["age"], needs=needs),
                 indent="    ")
    dp = data["direct_procurement"]
    echo_wrapped(text("cli.out.why_direct", reason=label(dp.get("reason"), "direct_procurement_reason"),
                      message=dp.get("message"), rule=dp.get("rule"), source=_source_text(dp.get("source"))))
    if data["why_no_preferred_unit"]:
        for route, counts in data["why_no_preferred_unit"].items():
            echo_wrapped(f"  {label(route, 'route')}: " + ", ".join(
                f"{label(code, 'exclusion')} {n}" for code, n in sorted(counts.items())), indent="    ")
    else:
        echo("  " + text("cli.out.no_preferred_unit"))
    th = data["threshold"]
    for r in data["recommendations"]:
        echo("")
        echo_wrapped(text("cli.out.review_unit_line", rank=r["rank"], unit=r["unit_id"], name=r["unit_name"] or "",
                          municipality=r["municipality"] or "–", supplier=r["supplier_name"], org_nr=r["org_nr"]))
        ratio = text("cli.out.review_price_ratio", ratio=fmt_number(r["price_ratio"], 2)) if r.get("price_ratio") else ""
        flags = text("cli.out.review_flags", flags=", ".join(label(f, "flag") for f in r["flags"])) if r["flags"] else ""
        echo_wrapped("  " + text("cli.out.review_prices", price=fmt_money(r["daily_price"]),
                                 reference=fmt_money(r["reference_price"]), ratio=ratio, flags=flags), indent="    ")
        print_table([dict(c, passed=text("cli.out.yes") if c["passed"] else text("cli.out.no_capital"),
                          note=said(check_note(c["note"])) if c["note"] else None)
                     for c in r["checks"]],
                    [("kind", "Check", "check_kind"), ("result", "Result", "check_result"), ("passed", "Godkänd"),
                     ("value", "Value"), ("performed_on", "Utförd"), ("note", "Note")],
                    title=text("cli.out.review_checks_title"))
        purchases = r["direct_purchases"]
        same = purchases["by_insats"].get(req["insats"], 0)
        over = (text("cli.out.review_against_limit", limit=fmt_money(th["value"]),
                     over=text("cli.out.over_limit") if r["over_threshold"] else text("cli.out.under_limit"))
                if th.get("value") is not None else
                text("cli.out.review_limit_unknown", note=th.get("note_said") or th.get("note")))
        echo_wrapped("  " + text("cli.out.review_direct_purchases", n=len(purchases["placements"]), year=purchases["year"],
                                 count=Number(len(purchases["placements"])), total=fmt_money(purchases["total"]),
                                 insats=label(req["insats"], "insats"), same=fmt_money(same),
                                 with_this=fmt_money(r["total_with_this_case"]), over=over), indent="    ")


def _decide(review_id: str, approve: bool, actor: str | None, note: str, json_output: bool) -> None:
    out = call("matching.views:review_decide", review_id, approve=approve, actor=actor, note=note,
               http=("POST", f"/reviews/{segment(review_id)}/{'approve' if approve else 'reject'}", {},
                     {"note": note}))
    if wants_json(json_output):
        print_json(out)
    else:
        echo(text("cli.out.review_decided", id=out["id"], status=label(out["status"], "review_status"),
                  reviewer=out["reviewer"], note=out["note"]))
        next_steps([_cmd("review", "show", out["id"]) + "   # " + text("cli.out.next_review"),
                    _cmd("review", "list", "--status", "pending") + "   # " + text("cli.out.next_reviews_pending")])


@review.command("approve")
@click.argument("review_id")
@click.option("--note", required=True, type=boundary.NOTE, help="The reviewer's note (required).")
@by_option
@json_option
def review_approve(review_id: str, note: str, actor: str | None, json_output: bool) -> None:
    """Approve a pending direct-procurement review."""
    _decide(review_id, True, actor, note, json_output)


@review.command("reject")
@click.argument("review_id")
@click.option("--note", required=True, type=boundary.NOTE, help="The reviewer's note (required).")
@by_option
@json_option
def review_reject(review_id: str, note: str, actor: str | None, json_output: bool) -> None:
    """Reject a pending direct-procurement review."""
    _decide(review_id, False, actor, note, json_output)
