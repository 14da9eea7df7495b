"""The case work around the register (issue 12): `placement`, `complaint`, `control`,
`followup`, and their audits (`audit placement-agreements / controls / surveys /
not-executed / direct-purchases`).

Every command prints a table for people (Swedish labels), or --json / --jsonl / --csv /
--excel (codes) through the shared output options; every write takes --by and is recorded in
history by the library (placering.casework).
"""

from __future__ import annotations

from typing import Any

import click

from .. import boundary
from ..display import today
from ..vocabulary import CareQuality, ComplaintCategory, ComplaintOutcome, ComplaintStatus, ControlCheck, ControlOutcome, RemovalReason
from . import cli
from .options import AS_OF, YEAR, as_of_day as _as_of, year_or_this as _year
from .params import Code
from .common import DECIMAL
from ..labels import label
from .helptext import PlaceringCommand
from .common import (CliError, Output, PlaceringGroup, Section, app, by_option, call, echo, local_only,
                     output_options, parse_date, rules_option)
from .remote import segment
from ..display import fmt_money
from ..i18n import Label, label_list, msg, text

# The case-work audits: `placering audit …` finds them here (cli/audit.py, AuditGroup) when one
# is asked for; this module does not import the audit group (each module imports only below it).
AUDIT_COMMANDS: dict[str, click.Command] = {}


def _audit_command(name: str):
    def attach(f):
        command = click.command(name, cls=PlaceringCommand)(f)
        AUDIT_COMMANDS[name] = command
        return command
    return attach


def _codes(enum) -> str:
    return ", ".join(m.value for m in enum)


def _one(row: dict, out: Output, message: str, columns: list[tuple]) -> None:
    """A write's result: the record as JSON (or one CSV / JSON-lines row), or a sentence."""
    if out.machine:
        out.listing([row], columns, data=row)
    else:
        echo(message)


def _on(value: str | None, option: str = "--on"):
    return parse_date(value, option) or today()


# --- placement: decision period, agreed price, placement agreement ----------------------------

PLACEMENT_COLUMNS = [("request_id", "Förfrågan"), ("unit_id", "Enhet"), ("route", "Regiform", "route"),
                     ("problems", "Avvikelser", "placement_problem"), ("decision_from", "Beslut från"),
                     ("decision_to", "Beslut till"), ("agreed_price", "Överenskommet pris"),
                     ("agreement_from", "Avtal från"), ("agreement_to", "Avtal till"),
                     ("agreement_price", "Avtalat pris"), ("agreed_by", "Överenskommet av"),
                     ("listed_price", "Listpris"), ("org_nr", "Org.nr"), ("signed_on", "Undertecknat")]


@cli.group(cls=PlaceringGroup)
def placement() -> None:
    """A placement's decision period, agreed price and placement agreement (placeringsavtal)."""


@placement.command("decision")
@click.argument("request_id")
@click.option("--from", "decision_from", help="First day of the decision (biståndsbeslut) period (YYYY-MM-DD).")
@click.option("--to", "decision_to", help="Last day of the decision period (YYYY-MM-DD).")
@click.option("--price", type=DECIMAL, help="The agreed daily price (kr); for direct procurement the negotiated one.")
@click.option("--agreed-by", help="Who agreed the negotiated direct-procurement price (a role, no personal names).")
@click.option("--note", type=boundary.NOTE, help="Why (recorded in history).")
@by_option
@output_options
def placement_decision(request_id, decision_from, decision_to, price, agreed_by, note, actor, out: Output) -> None:
    """Record or change the decision period and/or the agreed daily price of a placement."""
    fields = {"decision_from": parse_date(decision_from, "--from"), "decision_to": parse_date(decision_to, "--to"),
              "agreed_price": price, "agreed_by": agreed_by, "note": note}
    row = call("casework.views:placement_decision", request_id, actor=actor, **fields,
               http=("POST", f"/placements/{segment(request_id)}/decision", {}, fields))
    _one(row, out, text("cli.out.placement_decision", request=row["request_id"], start=row["decision_from"] or "",
                        end=row["decision_to"] or "", price=fmt_money(row["agreed_price"]), by=row["agreed_by"] or "–"),
         PLACEMENT_COLUMNS)


@placement.command("agreement")
@click.argument("request_id")
@click.option("--from", "period_from", help="First day of the agreement's period (YYYY-MM-DD).")
@click.option("--to", "period_to", help="Last day of the agreement's period (YYYY-MM-DD).")
@click.option("--price", type=DECIMAL, help="The daily price in the agreement (kr).")
@click.option("--signed-on", help="Date the agreement was signed (YYYY-MM-DD).")
@click.option("--note", type=boundary.NOTE, help="Why (recorded in history).")
@by_option
@output_options
def placement_agreement(request_id, period_from, period_to, price, signed_on, note, actor, out: Output) -> None:
    """Record the placement agreement (placeringsavtal) of a placement, or change its period or price."""
    fields = {"period_from": parse_date(period_from, "--from"), "period_to": parse_date(period_to, "--to"),
              "daily_price": price, "signed_on": parse_date(signed_on, "--signed-on"), "note": note}
    row = call("casework.views:placement_agreement", request_id, actor=actor, **fields,
               http=("POST", f"/placements/{segment(request_id)}/agreement", {}, fields))
    matches = (text("cli.out.placement_agreement_differs", problems=label_list(row["problems"], "placement_problem",
                                                                               capital=True))
               if row["problems"] else text("cli.out.placement_agreement_matches"))
    _one(row, out, text("cli.out.placement_agreement", request=row["request_id"], start=row["agreement_from"],
                        end=row["agreement_to"] or "", price=fmt_money(row["agreement_price"]), matches=matches),
         PLACEMENT_COLUMNS)


@placement.command("show")
@click.argument("request_id")
@output_options
def placement_show(request_id, out: Output) -> None:
    """A placement's decision, agreed price and agreement, and whether they match."""
    row = call("casework.placement_read:placement_show", request_id, http=("GET", f"/placements/{segment(request_id)}"))
    out.listing([row], PLACEMENT_COLUMNS, data=row)


@_audit_command("placement-agreements")
@AS_OF
@click.option("--every", "all_rows", is_flag=True, help="Every placement, not only those with a problem.")
@output_options
def audit_placement_agreements(as_of, all_rows, out: Output) -> None:
    """Placements whose agreement does not match the decision (period or agreed price), or
    that have no placement agreement ('ett placeringsavtal ska matcha ett verkställt beslut,
    med samma placeringstid och överenskommet pris', Nordost 2022, 7.3)."""
    on = _as_of(as_of)
    data = call("audit.reads:placement_agreements", as_of=on, all_rows=all_rows,
                http=("GET", "/audit/placement-agreements", {"as_of": on, "every": all_rows}))
    rows = data["placements"]
    out.listing(rows, PLACEMENT_COLUMNS, data=data,
                title=text("cli.out.placement_agreements_title", on=on.isoformat(), count=len(rows)))


# --- complaints ---------------------------------------------------------------------------------

COMPLAINT_COLUMNS = [("id", "Id"), ("received_on", "Mottagen"), ("unit_id", "Enhet"),
                     ("category", "Kategori", "complaint_category"), ("handler", "Handläggs av", "complaint_handler"),
                     ("received_by", "Mottagen av"), ("status", "Status", "complaint_status"),
                     ("outcome", "Utfall", "complaint_outcome"), ("closed_on", "Avslutad"), ("org_nr", "Org.nr"),
                     ("categories", "Alla kategorier", "complaint_category"), ("complainant_ref", "Synpunktslämnarens referens")]


@cli.group(cls=PlaceringGroup)
def complaint() -> None:
    """Complaints (synpunkter) as cases: routed to INK (framework suppliers) or Spink."""


@complaint.command("add")
@click.argument("unit_id")
@click.option("--category", "categories", required=True, multiple=True,
              type=Code("complaint_category", ComplaintCategory),
              help=f"What it is about ({_codes(ComplaintCategory)}, or the label); repeat it for a complaint about "
              "several things.")
@click.option("--on", "on", required=True, help="Date it was received (YYYY-MM-DD).")
@click.option("--complainant-ref", help="The complainant's own reference (never a name), to follow the handling "
              "with 'complaint list --complainant-ref'.")
@click.option("--individual", is_flag=True, help="A matter about one person, not the operation: handed to the "
              "responsible social worker (no deepened-control count).")
@click.option("--received-by", default="Spink", show_default=True,
              help="The organisation that received it (e.g. Spink, Nordost, INK).")
@click.option("--outcome", default="pending", show_default=True, type=Code("complaint_outcome", ComplaintOutcome),
              help=f"Outcome ({_codes(ComplaintOutcome)}, or the label).")
@click.option("--note", type=boundary.NOTE, help="A short description (no names or personal identity numbers).")
@rules_option
@by_option
@output_options
def complaint_add(unit_id, categories, on, complainant_ref, individual, received_by, outcome, note, rules_dir, actor,
                  out: Output) -> None:
    """Record a complaint on a unit (the same path as `register complaint`): it is routed, and
    the register-status rules see similar complaints on the supplier."""
    from .register import _applied_text

    received_on = parse_date(on, "--on")
    local_only("--rules", rules_dir)
    fields = {"category": categories[0], "outcome": outcome, "note": note, "received_by": received_by,
              "categories": list(categories[1:]), "complainant_ref": complainant_ref, "individual_level": individual}
    row = call("casework.views:complaint_add", unit_id, received_on=received_on, actor=actor, rules_dir=rules_dir,
               **fields, http=("POST", f"/complaints/units/{segment(unit_id)}", {}, {"on": received_on, **fields}))
    _one(row, out, text("cli.out.complaint_added", id=row["id"], unit=row["unit_id"],
                        category=Label(row["category"], "complaint_category", capital=True),
                        handler=Label(row["handler"], "complaint_handler", capital=True), received_by=row["received_by"])
         + _applied_text(row["rules"]), COMPLAINT_COLUMNS)


@complaint.command("update")
@click.argument("complaint_id", type=boundary.WholeParam(1))
@click.option("--status", type=Code("complaint_status", ComplaintStatus),
              help=f"New status ({_codes(ComplaintStatus)}, or the label); closing needs an outcome.")
@click.option("--outcome", type=Code("complaint_outcome", ComplaintOutcome),
              help=f"Outcome ({_codes(ComplaintOutcome)}, or the label); recommendation_stop stops the unit.")
@click.option("--note", type=boundary.NOTE, help="What was done (recorded in history).")
@click.option("--on", "on", help="Date of the change (YYYY-MM-DD; default today).")
@by_option
@output_options
def complaint_update(complaint_id, status, outcome, note, on, actor, out: Output) -> None:
    """Move a complaint case on: status and/or outcome."""
    fields = {"status": status, "outcome": outcome, "note": note, "on": parse_date(on, "--on")}
    row = call("casework.views:complaint_update", complaint_id, actor=actor, **fields,
               http=("POST", f"/complaints/{complaint_id}", {}, fields))
    _one(row, out, text("cli.out.complaint_updated", id=row["id"], status=Label(row["status"], "complaint_status", capital=True),
                        outcome=label(row["outcome"], "complaint_outcome").lower()), COMPLAINT_COLUMNS)


@complaint.command("list")
@click.option("--handler", type=Code("complaint_handler"), help="Only complaints handled by ink or spink.")
@click.option("--status", type=Code("complaint_status", ComplaintStatus),
              help=f"Only this status ({_codes(ComplaintStatus)}, or the label).")
@click.option("--open", "open_only", is_flag=True, help="Only complaints not closed.")
@click.option("--supplier", "org_nr", help="Only complaints about this supplier (organisation number).")
@click.option("--unit", "unit_id", help="Only complaints about this unit.")
@click.option("--category", type=Code("complaint_category", ComplaintCategory),
              help="Only this category (among the complaint's categories; code or label).")
@click.option("--complainant-ref", help="Only the complaints with this complainant's reference.")
@output_options
def complaint_list(handler, status, open_only, org_nr, unit_id, category, complainant_ref, out: Output) -> None:
    """Complaint cases, oldest first."""
    filters = {"handler": handler, "status": status, "org_nr": org_nr, "unit_id": unit_id, "category": category,
               "open_only": open_only, "complainant_ref": complainant_ref}
    rows = call("casework.reads:complaint_list", **filters, http=("GET", "/complaints", filters))
    out.listing(rows, COMPLAINT_COLUMNS, title=text("cli.out.complaints_title", count=len(rows)))


@complaint.command("queue")
@click.option("--handler", help="Only the queues of ink or spink.")
@output_options
def complaint_queue(handler, out: Output) -> None:
    """Open complaints per handler and receiving organisation (the queues)."""
    rows = call("casework.reads:complaint_queue", handler=handler, http=("GET", "/complaints/queues", {"handler": handler}))
    out.listing(rows, [("handler", "Handläggs av", "complaint_handler"), ("received_by", "Mottagen av"),
                       ("open", "Öppna"), ("oldest", "Äldsta"), ("ids", "Synpunkter")], title=text("cli.out.complaint_queues_title"))


# --- deepened controls --------------------------------------------------------------------------

CONTROL_COLUMNS = [("id", "Id"), ("org_nr", "Org.nr"), ("unit_id", "Enhet"), ("status", "Status", "control_status"),
                   ("outcome", "Utfall", "control_outcome"), ("opened_on", "Öppnad"), ("decided_on", "Beslutad"),
                   ("decided_by", "Beslutad av"), ("checked", "Kontrollerat", "control_check"),
                   ("proposal_id", "Förslag"), ("reason", "Anledning"), ("opened_by", "Öppnad av")]


@cli.group(cls=PlaceringGroup)
def control() -> None:
    """Deepened controls (fördjupade kontroller) of suppliers as cases."""


@control.command("open")
@click.argument("org_nr", required=False)
@click.option("--unit", "unit_id", help="Control one unit of the supplier.")
@click.option("--proposal", "proposal_id", type=boundary.WholeParam(1), help="Open from this deepened-control proposal (accepts it).")
@click.option("--reason", type=boundary.NOTE, help="Why the control is opened (default: the proposal's message).")
@click.option("--on", "on", help="Date it is opened (YYYY-MM-DD; default today).")
@by_option
@output_options
def control_open(org_nr, unit_id, proposal_id, reason, on, actor, out: Output) -> None:
    """Open a deepened control of a supplier (ORG_NR), a unit, or from a proposal."""
    fields = {"on": _on(on), "org_nr": org_nr, "unit_id": unit_id, "proposal_id": proposal_id, "reason": reason}
    row = call("casework.views:control_open", actor=actor, **fields, http=("POST", "/controls", {}, fields))
    _one(row, out, text("cli.out.control_opened", id=row["id"], what=row["unit_id"] or row["org_nr"], on=row["opened_on"],
                        by=row["opened_by"]), CONTROL_COLUMNS)


@control.command("check")
@click.argument("control_id", type=boundary.WholeParam(1))
@click.argument("what", type=Code("control_check", ControlCheck, metavar="WHAT"))
@click.option("--finding", required=True, type=boundary.NOTE, help="What the check found (no names or personal identity numbers).")
@click.option("--on", "on", help="Date of the check (YYYY-MM-DD; default today).")
@by_option
@output_options
def control_check(control_id, what, finding, on, actor, out: Output) -> None:
    fields = {"finding": finding, "on": _on(on)}
    row = call("casework.views:control_check", control_id, what, actor=actor, **fields,
               http=("POST", f"/controls/{control_id}/checks/{segment(what)}", {}, fields))
    _one(row, out, text("cli.out.control_checked", id=row["id"], what=Label(what, "control_check", capital=True)),
         CONTROL_COLUMNS)


control_check.help = f"Record what a deepened control checked and found. WHAT: {_codes(ControlCheck)}."


@control.command("decide")
@click.argument("control_id", type=boundary.WholeParam(1))
@click.argument("outcome", type=Code("control_outcome", ControlOutcome, metavar="OUTCOME"))
@click.option("--note", required=True, type=boundary.NOTE, help="The grounds of the decision (the overall assessment).")
@click.option("--reason", "removal_reason", type=Code("removal_reason", RemovalReason),
              help=f"Removal reason (code or label), for removal ({_codes(RemovalReason)}).")
@click.option("--on", "on", help="Date of the decision (YYYY-MM-DD; default today).")
@by_option
@output_options
def control_decide(control_id, outcome, note, removal_reason, on, actor, out: Output) -> None:
    fields = {"note": note, "on": _on(on), "removal_reason": removal_reason}
    row = call("casework.views:control_decide", control_id, outcome, actor=actor, **fields,
               http=("POST", f"/controls/{control_id}/decision", {}, {"outcome": outcome, **fields}))
    changes = row["status_changes"]
    done = "; ".join(f"{x['unit_id']}: {label(x['status'][0], 'unit_status')} → {label(x['status'][1], 'unit_status')}"
                     for x in changes)
    _one(row, out, text("cli.out.control_decided", id=row["id"], outcome=Label(row["outcome"], "control_outcome", capital=True),
                        by=row["decided_by"])
         + (f" {done}." if done else ""), CONTROL_COLUMNS)


control_decide.help = ("Decide a deepened control. OUTCOME: " + _codes(ControlOutcome) + ".\n\nwatch, pause "
                       "(unpublish), removal (--reason) and recommendation_stop change the units' status through the "
                       "register's status path; order_stop_proposal is for INK ('register agreement').")


@control.command("list")
@click.option("--status", type=Code("control_status"), help="open or decided (or the label).")
@click.option("--outcome", type=Code("control_outcome", ControlOutcome),
              help="Only this outcome (e.g. order_stop_proposal: INK's list; or the label).")
@click.option("--supplier", "org_nr", help="Only this supplier.")
@output_options
def control_list(status, outcome, org_nr, out: Output) -> None:
    """Deepened controls, oldest first."""
    filters = {"status": status, "outcome": outcome, "org_nr": org_nr}
    rows = call("casework.reads:control_list", **filters, http=("GET", "/controls", filters))
    out.listing(rows, CONTROL_COLUMNS, title=text("cli.out.controls_title", count=len(rows)))


@control.command("show")
@click.argument("control_id", type=boundary.WholeParam(1))
@output_options
def control_show(control_id, out: Output) -> None:
    """One deepened control with what was checked and found."""
    row = call("casework.reads:control_show", control_id, http=("GET", f"/controls/{control_id}"))
    findings = [{"what": k, "finding": v["finding"], "on": v["on"], "by": v["by"]}
                for k, v in sorted(row["findings"].items())]
    out.emit(row, [Section("control", text("cli.out.control_title", id=row["id"]), [row], CONTROL_COLUMNS),
                   Section("findings", text("cli.out.control_findings_title"), findings,
                           [("what", "Kontroll", "control_check"), ("finding", "Iakttagelse"), ("on", "Datum"),
                            ("by", "Av")])])


@_audit_command("controls")
@YEAR
@output_options
def audit_controls(year, out: Output) -> None:
    """The year's deepened controls the way the annual report gives them: carried out (decided
    in the year), ended with pause or removal, per outcome, and what was checked (Spink 2024:
    '24 genomförda kontroller … 15 … pausats eller tagits bort')."""
    y = _year(year)
    data = call("audit.reads_yearly:controls", year=y, http=("GET", "/audit/controls", {"year": y}))
    figures = ("opened", "carried_out", "paused_or_removed", "from_proposal", "with_visit", "open_at_year_end")
    rows = [{"figure": k, "label": text(f"cli.out.controls_year.{k}"), "value": data[k]} for k in figures]
    rows += [{"figure": f"outcome {k}",
              "label": text("cli.out.controls_year.outcome", outcome=Label(k, "control_outcome", capital=True)), "value": v}
             for k, v in data["by_outcome"].items()]
    rows += [{"figure": f"checked {k}",
              "label": text("cli.out.controls_year.checked", check=Label(k, "control_check", capital=True)), "value": v}
             for k, v in data["checked"].items()]
    out.listing(rows, [("label", "Uppgift"), ("value", str(y))], data=data, csv_columns=["figure", "value"],
                title=text("cli.out.controls_year_title", year=y))


# --- follow-ups ---------------------------------------------------------------------------------

FOLLOWUP_COLUMNS = [("agreement_id", "Avtal"), ("months", "Månader"), ("done_on", "Genomförd"),
                    ("findings", "Iakttagelser"), ("recorded_by", "Av")]


@cli.group(cls=PlaceringGroup)
def followup() -> None:
    """Follow-ups: framework follow-ups after 12 and 30 months, the three-month HVB survey."""


@followup.command("agreement")
@click.argument("agreement_id")
@click.option("--at", "months", type=boundary.WholeParam(), required=True, help="Which follow-up: months after the start (12 or 30).")
@click.option("--on", "on", required=True, help="Date it was done (YYYY-MM-DD).")
@click.option("--findings", required=True, help="What the follow-up found.")
@by_option
@output_options
def followup_agreement(agreement_id, months, on, findings, actor, out: Output) -> None:
    """Record a framework follow-up as done; it then leaves `audit checks-due`."""
    fields = {"done_on": parse_date(on, "--on"), "findings": findings}
    row = call("casework.views:followup_agreement", agreement_id, months, actor=actor, **fields,
               http=("POST", f"/followups/{segment(agreement_id)}", {}, {"months": months, **fields}))
    _one(row, out, text("cli.out.followup_done", n=row["months"], agreement=row["agreement_id"], on=row["done_on"],
                        by=row["recorded_by"]), FOLLOWUP_COLUMNS)


@followup.command("list")
@click.option("--agreement", "agreement_id", help="Only this framework agreement.")
@output_options
def followup_list(agreement_id, out: Output) -> None:
    """Framework follow-ups recorded as done."""
    rows = call("casework.reads:followup_list", agreement_id=agreement_id,
                http=("GET", "/followups", {"agreement_id": agreement_id}))
    out.listing(rows, FOLLOWUP_COLUMNS, title=text("cli.out.followups_title", count=len(rows)))


def _yes_no(value: str, option: str) -> bool:
    v = value.strip().casefold()
    if v in ("yes", "ja", "true", "1"):
        return True
    if v in ("no", "nej", "false", "0"):
        return False
    raise CliError(msg("cli.not_yes_or_no", option=option, value=value), 2)


SURVEY_COLUMNS = [("request_id", "Förfrågan"), ("unit_id", "Enhet"), ("state", "Läge", "survey_state"),
                  ("due_on", "Senast"), ("start_on", "Placerad"), ("answered_on", "Besvarad"),
                  ("positive_change", "Positiv förändring"), ("care_quality", "Vårdens kvalitet", "care_quality"),
                  ("child_answered", "Barnet svarade")]
SUMMARY_COLUMNS = [("unit_id", "Enhet"), ("placements", "Placeringar"), ("answered", "Besvarade"),
                   ("overdue", "Försenade"), ("positive_change_share", "Andel positiv förändring"),
                   ("good_care_share", "Andel bra vård"), ("child_answered_share", "Andel barnet svarade"),
                   ("org_nr", "Org.nr")]


@followup.command("survey")
@click.argument("request_id")
@click.option("--on", "on", required=True, help="Date the survey was answered (YYYY-MM-DD).")
@click.option("--positive-change", required=True, help="Has there been a positive change (yes/no)?")
@click.option("--care-quality", required=True, type=Code("care_quality", CareQuality),
              help=f"The quality of care ({_codes(CareQuality)}, or the label).")
@click.option("--child-answered", required=True, help="Did the child answer too (yes/no)?")
@by_option
@output_options
def followup_survey(request_id, on, positive_change, care_quality, child_answered, actor, out: Output) -> None:
    """Record the answers of the three-month survey of an HVB placement of a child."""
    pc, ca = _yes_no(positive_change, "--positive-change"), _yes_no(child_answered, "--child-answered")
    fields = {"answered_on": parse_date(on, "--on"), "positive_change": pc, "care_quality": care_quality,
              "child_answered": ca}
    row = call("casework.views:followup_survey", request_id, actor=actor, **fields,
               http=("POST", f"/placements/{segment(request_id)}/survey", {}, fields))
    _one(row, out, text("cli.out.survey_recorded", request=row["request_id"], due=row["due_on"]), SURVEY_COLUMNS)


@followup.command("decision")
@click.argument("request_id")
@click.argument("what", type=click.Choice(["decided", "ended", "interrupted", "resumed"]))
@click.option("--on", "on", help="The day (YYYY-MM-DD; default today): the decision day for 'decided'.")
@click.option("--reason", help="With 'ended': why it ended without execution (person_request, needs_changed).")
@click.option("--note", help="What happened (kept in history).")
@by_option
@output_options
def followup_decision(request_id, what, on, reason, note, actor, out: Output) -> None:
    """The life of the decision behind a request: its decision day (decided), ended without
    execution (ended --reason), execution interrupted and resumed. 'audit not-executed' reads
    them (sources/000 l. 2901-2908, 001 l. 740-755)."""
    day = _on(on)
    if what == "ended" and not reason:
        raise CliError(msg("cli.decision_end_needs_reason"), 2)
    fields = {"on": day, "reason": reason, "note": note}
    row = call("casework.views:decision_life", request_id, what, actor=actor, **fields,
               http=("POST", f"/requests/{segment(request_id)}/decision-life", {}, {"what": what, **fields}))
    _one(row, out, text("cli.out.decision_life", request=row["request_id"], action=Label(row["action"], "history_action"),
                        on=str(row["effective_on"])[:10]),
         [("request_id", "Förfrågan"), ("action", "Händelse", "history_action"), ("effective_on", "Datum"),
          ("reason", "Skäl", "decision_end_reason")])


@_audit_command("surveys")
@AS_OF
@click.option("--summary", is_flag=True, help="One row per unit: answered, positive change, good care.")
@output_options
def audit_surveys(as_of, summary, out: Output) -> None:
    """Three-month surveys of HVB placements of children ('enkät efter tre månader', Nordost
    2022, 5.4): due dates, answers, and a per-unit summary."""
    on = _as_of(as_of)
    data = call("audit.reads_yearly:surveys", as_of=on, http=("GET", "/audit/surveys", {"as_of": on}))
    rows, per_unit = data["surveys"], data["per_unit"]
    if summary:
        out.listing(per_unit, SUMMARY_COLUMNS, data=data, title=text("cli.out.surveys_per_unit_title", on=on.isoformat()))
    else:
        out.listing(rows, SURVEY_COLUMNS, data=data, title=text("cli.out.surveys_title", on=on.isoformat(), count=len(rows)))


@_audit_command("protected-reads")
@click.option("--request", "request_id", help="Only this request.")
@click.option("--reader", help="Only this reader.")
@click.option("--since", help="From this day (YYYY-MM-DD).")
@click.option("--until", help="To this day (YYYY-MM-DD).")
@output_options
def audit_protected_reads(request_id, reader, since, until, out: Output) -> None:
    """Who read a protected person's request, and when: the log review as a filterable list
    (sources/003 l. 343-351: log reviews, time-limited access to protected cases)."""
    filters = {"request_id": request_id, "reader": reader, "since": parse_date(since, "--since"),
               "until": parse_date(until, "--until")}
    rows = call("audit.reads:protected_reads", **filters,
                http=("GET", "/audit/protected-reads", {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                                        for k, v in filters.items()}))
    out.listing(rows, [("request_id", "Förfrågan"), ("reader", "Läsare"), ("read_at", "Läst"),
                       ("what", "Vad")],
                data={"reads": rows}, title=text("cli.out.protected_reads_title", count=len(rows)))


@_audit_command("not-executed")
@AS_OF
@output_options
def audit_not_executed(as_of, out: Output) -> None:
    """Decisions not executed within three months (no placement) as of the date: the quarterly
    report to IVO ('rapportera till IVO alla beslut som inte verkställts inom tre månader',
    Hisingen 2024; SoL 16 kap. 6 f §)."""
    on = _as_of(as_of)
    data = call("audit.reads_yearly:not_executed", as_of=on, http=("GET", "/audit/not-executed", {"as_of": on}))
    rows = data["decisions"]
    out.listing(rows, [("request_id", "Förfrågan"), ("decided_on", "Beslutad"), ("deadline", "Skulle verkställas"),
                       ("days_over", "Dagar över"), ("state", "Läge", "execution_state"),
                       ("reported_before", "Rapporterat tidigare"), ("insats", "Insats", "insats"),
                       ("requester", "Förvaltning"), ("placement_start_on", "Placerad"),
                       ("municipality", "Kommun")],
                data=data,
                title=text("cli.out.not_executed_title", on=on.isoformat(), count=len(rows)))


# --- direct-procurement economics ---------------------------------------------------------------


@_audit_command("direct-purchases")
@YEAR
@click.option("--municipality", help="Only this buying municipality.")
@click.option("--insats", help="Only this insats.")
@click.option("--buyer", help="Only this buyer nämnd (the requesting administration, e.g. Nordost).")
@output_options
def audit_direct_purchases(year, municipality, insats, buyer, out: Output) -> None:
    """Direct purchases per contracting authority (the buyer nämnd within the buying
    municipality: LOU counts the threshold per upphandlande myndighet) and insats over the
    financial year, across suppliers, against the dated direct-procurement threshold."""
    y = _year(year)
    filters = {"municipality": municipality, "insats": insats, "buyer": buyer}
    data = call("audit.reads_yearly:direct_purchases", year=y, **filters,
                http=("GET", "/audit/direct-purchases", {"year": y, **filters}))
    out.listing(data["sums"], [("municipality", "Kommun"), ("buyer", "Nämnd"), ("insats", "Insats", "insats"),
                               ("total", "Summa kr"), ("threshold", "Gräns kr"), ("over_threshold", "Över gränsen"),
                               ("share_of_threshold", "Andel av gränsen"), ("placements", "Placeringar"),
                               ("suppliers", "Leverantörer")],
                data=data, csv_columns=["municipality", "buyer", "insats", "placements", "suppliers", "total", "threshold",
                                        "share_of_threshold", "over_threshold"],
                title=text("cli.out.direct_purchases_title", year=y))


# --- issue 20 item 8: complaints per period, SiS refusals of a place ---------------------------


@_audit_command("complaints")
@click.option("--since", help="First day (YYYY-MM-DD).")
@click.option("--until", help="Last day (YYYY-MM-DD).")
@click.option("--period", type=click.Choice(["month", "quarter", "half", "year"]), default="year",
              show_default=True, help="month, quarter, half or year.")
@click.option("--outcome", help="Only complaints with this outcome (e.g. platsbrist_sis: SiS did not provide a place).")
@click.option("--supplier", help="Only this supplier (organisation number).")
@output_options
def audit_complaints(since, until, period, outcome, supplier, out: Output) -> None:
    """Complaints received per period, and how many closed as 'Platsbrist SiS': the times SiS
    did not provide a place after an application (sources/001 l. 1049-1058; 000 l. 10584-10616).
    With --outcome platsbrist_sis, only those."""
    filters = {"since": parse_date(since, "--since"), "until": parse_date(until, "--until"), "period": period,
               "outcome": outcome, "org_nr": supplier}
    data = call("audit.reads_yearly:complaints_per_period", **filters,
                http=("GET", "/audit/complaints", {"since": filters["since"], "until": filters["until"],
                                                   "period": period, "outcome": outcome, "supplier": supplier}))
    title = (text("cli.out.complaints_per_period_outcome", outcome=Label(data["outcome"], "complaint_outcome", capital=True),
                  count=data["total"]) if data["outcome"] else text("cli.out.complaints_per_period", count=data["total"]))
    out.listing(data["periods"], [("period", "Period"), ("complaints", "Synpunkter"),
                                  ("platsbrist_sis", "SiS ej tillhandahållit plats"), ("units", "Enheter"),
                                  ("suppliers", "Leverantörer")],
                data=data, csv_columns=["period", "complaints", "platsbrist_sis", "units", "suppliers"], title=title)
