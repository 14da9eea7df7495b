"""`placering rules …`: list, show, lint, test the rule files; their version and parameters."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ValidationError
from . import cli
from ..sources import cite
from .common import (CliError, Output, output_options, PlaceringGroup, json_option, parse_date, print_json, print_table, rules_option,
                     wants_json)
from ..i18n import msg, text


def _ruleset(directory: Path | None):
    from ..rules.ruleset import load_ruleset

    return load_ruleset(directory)


def _outcome(rule) -> dict:
    from ..rules.model import Exclude, Flag, Propose, Transition

    o = rule.outcome
    if isinstance(o, Exclude):
        return {"exclude": o.code, "message": o.message}
    if isinstance(o, Flag):
        return {"flag": o.code, "message": o.message}
    if isinstance(o, Propose):
        return {"proposal": o.kind, "message": o.message}
    assert isinstance(o, Transition)
    t = {k: v for k, v in (("unit_status", o.unit_status), ("removal_reason", o.removal_reason),
                           ("agreement_status", o.agreement_status)) if v}
    return {"transition": t, "message": o.message}


def _rule_dict(rule) -> dict:
    from ..rules.model import RankingPolicy, render_condition

    d = {"id": rule.id, "stage": rule.stage, "title": rule.title, "description": rule.description,
         "source": str(rule.source), "valid_from": rule.valid_from, "valid_to": rule.valid_to,
         "file": rule.file, "line": rule.line}
    if isinstance(rule, RankingPolicy):
        d.update(route_order=list(rule.route_order), last_resort=list(rule.last_resort),
                 sort_keys=[{"key": k.key, "order": k.order} for k in rule.sort_keys],
                 recommendations=rule.recommendations)
        return d
    d.update(scope=rule.scope, event=rule.event, applies_when=render_condition(rule.applies_when) or None,
             when=render_condition(rule.when), outcome=_outcome(rule), parameters=list(rule.params))
    return d


@cli.group(cls=PlaceringGroup)
def rules() -> None:
    """The rule files in rules/: list, show, lint, test, version, parameters."""


def _stage_said(stage: str) -> str:
    """A rule's stage in words (issue 19: 'eligibility', 'register_status' were shown as codes)."""
    from ..i18n import text

    said = text(f"cli.out.rule_stage.{stage}")
    return stage if said.startswith("cli.out.") else said


def _outcome_said(o: dict) -> str:
    """What a rule does, in labels: the exclusion, flag or proposal, or the statuses it sets."""
    from ..labels import label

    if o.get("exclude"):
        return label(o["exclude"], "exclusion")
    if o.get("flag"):
        return label(o["flag"], "flag")
    if o.get("proposal"):
        return label(o["proposal"], "proposal_kind")
    if o.get("transition"):
        return ", ".join(label(v, k) for k, v in o["transition"].items())
    from ..i18n import text

    return text("cli.out.rule_stage.ranking")


@rules.command("list")
@click.option("--stage", type=click.Choice(["eligibility", "review", "register_status", "ranking"]),
              help="Only rules of this stage.")
@click.option("--on", "on", help="Only rules valid on this date (YYYY-MM-DD).")
@rules_option
@output_options
def list_rules(stage: str | None, on: str | None, rules_dir: Path | None, out: Output) -> None:
    """Every rule (and ranking policy) with its stage, validity, outcome and source (the source
    is left out of the table when it does not fit: --csv or --json have it)."""
    rs = _ruleset(rules_dir)
    day = parse_date(on, "--on")
    items = [*rs.rules, *rs.policies]
    if stage:
        items = [r for r in items if r.stage == stage]
    if day:
        items = [r for r in items if r.valid_on(day)]
    rows = [_rule_dict(r) for r in items]
    for row in rows:
        o = row.get("outcome") or {}
        if out.codes:  # CSV and JSON keep the codes
            row["does"] = (o.get("exclude") or o.get("flag") or o.get("proposal")
                           or ", ".join(f"{k}={v}" for k, v in (o.get("transition") or {}).items()) or "ranking")
            row["stage_said"] = row["stage"]
        else:
            row["does"], row["stage_said"] = _outcome_said(o), _stage_said(row["stage"])
        row["valid"] = f"{row['valid_from']}–{row['valid_to'] or ''}"
    out.listing(rows, [("id", "Rule"), ("stage_said", "Stage"), ("does", "Outcome"), ("valid", "Valid"),
                       ("title", "Title"), ("source", "Source")],
                title=text("cli.out.rules_title", n=len(rows), version=rs.version),
                csv_columns=["id", "stage", "title", "does", "valid_from", "valid_to", "source"],
                data={"rules_version": rs.version, "rules": [{k: v for k, v in r.items()
                                                             if k not in ("does", "valid", "stage_said")}
                                                             for r in rows]})


@rules.command("show")
@click.argument("rule_id")
@rules_option
@json_option
def show_rule(rule_id: str, rules_dir: Path | None, json_output: bool) -> None:
    """One rule: every version, its condition, outcome, source, the parameters it uses and the
    test cases that expect it to fire."""
    rs = _ruleset(rules_dir)
    versions = rs.versions(rule_id)
    params = []
    for name in dict.fromkeys(p for v in versions for p in getattr(v, "params", ())):
        p = rs.parameters[name]
        params.append({"name": name, "description": p.description, "unit": p.unit,
                       "values": [{"valid_from": v.valid_from, "valid_to": v.valid_to, "value": v.value,
                                   "source": str(v.source)} for v in p.values]})
    from ..rules.testing import tested_by_index

    tests_dir = rs.directory / "tests"
    cases = tested_by_index(tests_dir) if tests_dir.is_dir() else []
    tested_by = [{"file": c["file"], "line": c["line"], "name": c["name"]} for c in cases if rule_id in c["rules"]]
    doc = {"id": rule_id, "rules_version": rs.version, "versions": [_rule_dict(v) for v in versions],
           "parameters": params, "tested_by": tested_by}
    if wants_json(json_output):
        print_json(doc)
        return
    from ..i18n import text as say

    from ..labels import label
    from ..rules.model import CONDITION_WORDS, render_condition

    def period(frm, to) -> str:
        return f"{frm} – {to or say('rules.open_end')}"

    words = {w: say(f"cli.out.condition.{w}") for w in CONDITION_WORDS}  # och, eller, inte, finns, saknas …

    for v in doc["versions"]:
        click.echo(f"{v['id']}  {v['title']}")
        rule = rs.versions(rule_id)[doc["versions"].index(v)]
        click.echo(say("rules.show.stage", stage=_stage_said(v["stage"]))
                   + (f" ({label(v['scope'], 'rule_scope').lower()})" if v.get("scope") else "")
                   + (say("rules.show.event", event=label(v["event"], "entity_kind").lower()) if v.get("event") else ""))
        click.echo(say("rules.show.valid", period=period(v["valid_from"], v["valid_to"])))
        click.echo(say("rules.show.description", description=v["description"]))
        click.echo(say("rules.show.source", source=cite(rule.source)))
        if v.get("applies_when"):
            click.echo(say("rules.show.applies_when", when=render_condition(rule.applies_when, words)))
        if v.get("when"):
            click.echo(say("rules.show.when", when=render_condition(rule.when, words)))
            o = v["outcome"]
            kind = next(k for k in o if k != "message")
            click.echo(say("rules.show.outcome", kind=say(f"cli.out.rule_outcome.{kind}"), code=_outcome_said(o),
                           message=o["message"]))
        if v.get("route_order"):
            click.echo(say("rules.show.route_order", routes=", ".join(v["route_order"]), last=", ".join(v["last_resort"])))
            click.echo(say("rules.show.sort_keys", keys=", ".join(f"{k['key']} {k['order']}" for k in v["sort_keys"])))
            click.echo(say("rules.show.recommendations", count=v["recommendations"]))
        click.echo(say("rules.show.file", where=f"{v['file']}:{v['line']}"))
    if tested_by:
        click.echo(say("rules.show.tested_by", cases="; ".join(f"{t['file']}:{t['line']} {t['name']}" for t in tested_by)))
    from ..labels import fact_value

    for p in params:  # values as `rules params` says them: Swedish numbers, labels; the source by its document
        click.echo(say("rules.show.parameter", name=p["name"], description=p["description"]))
        for val, raw in zip(p["values"], rs.parameters[p["name"]].values):
            value = val["value"]
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {fact_value(p['name'], v)}" for k, v in value.items())
            else:
                value = fact_value(f"param.{p['name']}", value)
            click.echo(f"  {period(val['valid_from'], val['valid_to'])}: {value}  ({cite(raw.source)})")


@rules.command("lint")
@rules_option
@json_option
def lint(rules_dir: Path | None, json_output: bool) -> None:
    """Validate the rule files, parameters and rule tests strictly; list every problem."""
    from ..paths import rules_dir as default_rules_dir
    from ..rules.lint import lint_directory

    base = rules_dir or default_rules_dir()
    result = lint_directory(base)
    problems, rs, cases = result.problems, result.ruleset, result.test_cases
    if problems:
        if wants_json(json_output):
            print_json({"ok": False, "problems": [{"message": str(p.message), "file": p.file, "line": p.line,
                                                   "record": p.record and str(p.record), "field": p.field} for p in problems]})
            raise SystemExit(2)
        from ..errors import Problems

        raise CliError(msg("rules.lint.problems", n=len(problems), directory=str(base), problems=Problems(problems)), 2)
    summary = {"ok": True, "directory": str(base), "rules": len(rs.rules), "policies": len(rs.policies),
               "parameters": len(rs.parameters), "files": len({r.file for r in (*rs.rules, *rs.policies)}),
               "test_cases": cases, "rules_version": rs.version}
    if wants_json(json_output):
        print_json(summary)
        return
    from ..i18n import text as say

    click.echo(say("rules.lint.ok", rules=summary["rules"], policies=summary["policies"], files=summary["files"],
                   parameters=summary["parameters"], test_cases=summary["test_cases"], version=summary["rules_version"]))


@rules.command("test")
@rules_option
@json_option
def test(rules_dir: Path | None, json_output: bool) -> None:
    """Run the rule test cases in DIR/tests/*.yaml against DIR's rules; exit 1 if any fails."""
    from ..paths import rules_dir as default_rules_dir
    from ..rules.testing import run_rule_tests

    base = rules_dir or default_rules_dir()
    results = run_rule_tests(base)
    if not results:
        raise CliError(msg("rules.test.no_cases", directory=str(base / "tests")), 1)
    failed = [r for r in results if not r.passed]
    if wants_json(json_output):
        print_json({"passed": len(results) - len(failed), "failed": len(failed),
                    "cases": [r.as_dict() for r in results]})
    else:
        for r in results:
            from ..i18n import said, text

            click.echo(f"{text('rules.test.ok') if r.passed else text('rules.test.fail')} {r.case.id}")
            for f in r.failures:
                click.echo(f"       {Path(r.case.file).name}:{r.case.line}: {said(f)}")
        click.echo(text("rules.test.summary", passed=len(results) - len(failed), failed=len(failed)))
    if failed:
        raise SystemExit(1)


@rules.command("version")
@rules_option
@json_option
def version(rules_dir: Path | None, json_output: bool) -> None:
    """The rules version: a content hash of the rule files and parameters."""
    rs = _ruleset(rules_dir)
    if wants_json(json_output):
        print_json({"rules_version": rs.version, "directory": str(rs.directory)})
        return
    click.echo(rs.version)


@rules.command("params")
@click.option("--on", "on", help="Show the value valid on this date (YYYY-MM-DD); default: every dated value.")
@rules_option
@json_option
def params(on: str | None, rules_dir: Path | None, json_output: bool) -> None:
    """The dated parameters (rules/parameters/*.yaml) with their sources."""
    rs = _ruleset(rules_dir)
    day = parse_date(on, "--on")
    rows = []
    for name, p in sorted(rs.parameters.items()):
        for v in p.values:
            if day and not v.valid_on(day):
                continue
            rows.append({"name": name, "value": v.value, "unit": p.unit, "valid_from": v.valid_from,
                         "valid_to": v.valid_to, "source": str(v.source)})
    if wants_json(json_output):
        print_json({"rules_version": rs.version, "parameters": rows})
        return
    from ..labels import fact_value

    for row in rows:  # a person reads words, labels and Swedish numbers; the source by its document
        if isinstance(row["value"], dict):
            row["value"] = ", ".join(f"{k}: {fact_value(row['name'], v)}" for k, v in row["value"].items())
        elif isinstance(row["value"], (list, tuple, bool)):
            row["value"] = fact_value(f"param.{row['name']}", row["value"])
        row["valid"] = f"{row['valid_from']}–{row['valid_to'] or ''}"
        row["source"] = cite(row["source"])
    print_table(rows, [("name", "Parameter"), ("value", "Value"), ("unit", "Unit", "parameter_unit"),
                       ("valid", "Valid"), ("source", "Source")])
