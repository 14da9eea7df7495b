"""`placering register …`: the maintainers' commands (registervård) over placering.register."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click

from .. import boundary
from ..display import fmt_number
from .changes import change_text as _change_text
from .messages import said as _said
from ..vocabulary import (
    AgreementStatus,
    CheckKind,
    CheckResult,
    ComplaintCategory,
    ComplaintOutcome,
    PermitStatus,
    RemovalReason,
    Route,
    UnitStatus,
)
from ..labels import label, labels
from . import cli
from ..display import safe_json
from .remote import segment
from .params import Code
from .common import (
    DECIMAL,
    TABLE_ROWS,
    CliError,
    Output,
    Section,
    call,
    echo,
    local_only,
    output_options,
    PlaceringGroup,
    app,
    by_option,
    json_option,
    parse_date,
    rules_option,
    print_json,
    print_table,
    wants_json,
)
from ..i18n import Number, msg, text as say


def _codes(enum) -> str:
    return ", ".join(m.value for m in enum)


@cli.group(cls=PlaceringGroup)
def register() -> None:
    """The supplier register (utförarregister): import, search, status, checks, history."""


# --- import / export ------------------------------------------------------------------------


DRY_RUN_ROWS = 500  # a table of every change of a national register helps nobody; --json has them all


@register.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Validate and show what would change, every status change "
              "included; write nothing.")
@click.option("--on", "on", help="Date the import's changes take effect in history (YYYY-MM-DD; default today).")
@click.option("--move-units", is_flag=True,
              help="Let a unit listed under another supplier than the register's move to that supplier.")
@click.option("--apply-status", is_flag=True, help="A maintainer's decision to take the statuses in the file "
              "(units, agreement participations), e.g. when the register is first loaded from an earlier system; "
              "recorded in history with the file. Rules that must win (a lost IVO permit) still win.")
@click.option("--skip-conflicts", is_flag=True, help="For a file exported before later changes in the register: "
              "keep the register's value of every conflicting field and apply the rest.")
@click.option("--rules", "rules_path", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Rules directory (default: the current rules): register-status rules and parameters.")
@by_option
@json_option
def import_(file: str, dry_run: bool, on: str | None, move_units: bool, apply_status: bool, skip_conflicts: bool,
            rules_path: Path | None, actor: str | None, json_output: bool) -> None:
    """Import a register file: the interchange JSON (placering-register/1) or the unit CSV.

    The format is chosen by the extension (.json, .csv), else by the content. Import is an
    upsert by org_nr / unit_id and all or nothing: every problem is reported (file, record or
    line, field) and nothing is written unless the whole file is valid. A unit in the file
    replaces its offers, routes and permits; re-importing the same file changes nothing.

    Decisions of the register are kept: a unit's status, a supplier's order stop or termination,
    a revoked or banned permit. The file's statuses are taken only with --apply-status. New
    units of suppliers other than the municipality enter as pending_entry until their entry
    check is approved ('placering register entry'). Permit decisions and checks in the file
    fire the register-status rules as 'register permit' / 'register check' do. A file exported
    before later changes to the same records is refused with the conflicts (--skip-conflicts).

    CSV columns (one row per unit and route; lists separated by ';'): org_nr, supplier_name,
    legal_form, unit_id, unit_name, municipality, lat, lon, protected_address, places,
    free_places, age_min, age_max, genders, target_groups, unit_status, removal_reason,
    status_note, insats, subcategories, route, agreement_id, daily_price, valid_from,
    valid_to, buyers, agreement_status, reserved_nonprofit, and from an export revision; or
    their Swedish headers, with labels or codes in the cells (as --excel and --xlsx export
    them). The CSV carries no permits or checks (those in the register are kept), and free
    places are never taken from a file: they follow the placements. The CSV is read as UTF-8
    (a byte-order mark is fine), else in the encoding detected (Windows-1252, what Swedish
    Excel saves; said on stderr). An Excel workbook (.xlsx) is read from its first sheet.
    """
    local_only("--rules", rules_path)
    effective_on = parse_date(on, "--on", past=True)
    data = _file_bytes(file)
    flags = {"dry_run": dry_run, "move_units": move_units, "apply_status": apply_status,
             "skip_conflicts": skip_conflicts}
    if app().client() is None:
        from ..rules import load_ruleset

        ruleset = load_ruleset(rules_path)
        result = call("register.views:import_file", data, file, actor=actor, effective_on=effective_on,
                      ruleset=ruleset, http=(), **flags)
    else:  # the file goes to the server as it is; the server reads it as this machine would
        result = call("", http=("POST", "/register/import", {"name": file, "on": effective_on, **flags}, data))
    notes = result.pop("notes", [])
    for note in notes:
        echo(f"{say('note.prefix')}: {_said(note)}", err=True)
    if wants_json(json_output):
        print_json(result)
        return
    s, u = result["suppliers"], result["units"]
    echo(say("cli.out.import_would" if dry_run else "cli.out.import_done", file=file,
              s_created=s["created"], s_updated=s["updated"], s_unchanged=s["unchanged"], u_created=u["created"],
              u_updated=u["updated"], u_unchanged=u["unchanged"], agreements=result["agreements_changed"]))

    from ..register.whys import import_why
    from .messages import said

    def status_label(kind: str, code) -> str:
        return label(code, "agreement_status" if kind == "agreement" else
                     "permit_status" if kind == "permit" else "unit_status") if code else say("cli.out.new_marker")

    changed = [c for c in result["status_changes"] if c["why"] != "created" or c["to"] == "pending_entry"]
    if changed:
        print_table(_Rows(changed, lambda c: {"what": f"{label(c['kind'], 'entity_kind')} {c['id']}"
                      + (f" ({c['org_nr']})" if c["kind"] == "agreement" else ""),
                      "change": f"{status_label(c['kind'], c['from'])} → {status_label(c['kind'], c['to'])}",
                      "why": said(import_why(c["why"]))}),
                    [("what", "Enhet / avtal"), ("change", "Status"), ("why", "Varför")],
                    title=say("cli.out.status_changes") + (" " + say("cli.out.nothing_written") if dry_run else ""),
                    # A first load of the national register enters 20,000 units: the first rows
                    # and the count (rendering them all took 15 s); --dry-run lists every one.
                    limit=None if dry_run else TABLE_ROWS, hint=say("cli.out.dry_run_hint"))
    if result["kept"]:
        print_table(_Rows(result["kept"], lambda k: {"what": f"{label(k['kind'], 'entity_kind')} {k['id']}"
                              + (" " + say("cli.out.free_places_marker") if k.get("field") == "free_places" else ""),
                      "register": status_label(k["kind"], k["register"]) if k.get("field") == "status"
                      else (say("cli.out.new_marker") if k["register"] is None else k["register"]),
                      "file": status_label(k["kind"], k["file"]) if k.get("field") == "status" else k["file"],
                      "why": said(import_why(k["why"]))}),
                    [("what", "Post"), ("register", "Behållet"), ("file", "Filen säger"), ("why", "Varför")],
                    title=say("cli.out.kept_title"), limit=None if dry_run else TABLE_ROWS,
                    hint=say("cli.out.dry_run_hint"))
    if result["conflicts"]:
        echo(say("cli.out.kept_conflicts", count=len(result["conflicts"]), revision=result["revision"]))
    if result["published_without_entry_checks"]:
        print_table(_Rows(result["published_without_entry_checks"],
                          lambda p: {"unit": p["unit_id"], "org_nr": p["org_nr"], "status": p["status"],
                                     "missing": ", ".join(label(m, "check_kind") for m in p["missing"])}),
                    [("unit", "Unit"), ("org_nr", "Org nr"), ("status", "Status", "unit_status"),
                     ("missing", "Inträdeskontroller som inte är godkända")],
                    title=say("cli.out.published_without_entry_title"),
                    # A first load lists thousands (14,000 of the demo generator's 20,000 units):
                    # the first rows and the count, as the status changes above.
                    limit=None if dry_run else TABLE_ROWS, hint=say("cli.out.dry_run_hint"))
    if dry_run and result["changes"]:
        shown = result["changes"][:DRY_RUN_ROWS]
        print_table(
            [{"entity": f"{label(c['entity_kind'], 'entity_kind')} {c['entity_id']}", "action": c["action"],
              "change": _change_text(c.get("changes") or {}, c["action"], c["entity_kind"], people=True)}
             for c in shown],
            [("entity", "Entity"), ("action", "Action", "history_action"), ("change", "Change")],
            title=say("cli.out.dry_run_changes_title"))
        if len(result["changes"]) > len(shown):
            echo(say("cli.out.dry_run_more", more=Number(len(result["changes"]) - len(shown))))


class _Rows(Sequence):
    """A table's rows made when shown (print_table slices a sequence): a first load's tables
    list tens of thousands of units and show the first TABLE_ROWS."""

    def __init__(self, items: list, row):
        self.items, self.row = items, row

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        return [self.row(x) for x in self.items[i]] if isinstance(i, slice) else self.row(self.items[i])


def _file_bytes(path: str) -> bytes:
    from ..errors import Problem, ValidationError

    try:
        return Path(path).read_bytes() if path != "-" else click.get_binary_stream("stdin").read()
    except OSError as exc:
        from ..errors import os_reason

        raise ValidationError(Problem(msg("file.cannot_read", reason=os_reason(exc)), file=path)) from None


@register.command()
@click.option("--json", "json_output", is_flag=True, help="The interchange JSON (the default).")
@click.option("--csv", "csv_output", is_flag=True, help="The unit CSV (comma, UTF-8, decimal point).")
@click.option("--excel", "excel_output", is_flag=True,
              help="The unit CSV for Swedish Excel (semicolon, UTF-8 with BOM, decimal comma).")
@click.option("--xlsx", "xlsx", metavar="FIL", type=click.Path(dir_okay=False, path_type=Path),
              help="The unit rows as an Excel workbook (.xlsx) with Swedish headers and labels, written to FIL.")
@click.option("--show-protected", is_flag=True,
              help="Include the coordinates of units with a protected address (left out otherwise).")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of stdout.")
def export(json_output: bool, csv_output: bool, excel_output: bool, xlsx: Path | None, show_protected: bool,
           out: str | None) -> None:
    """Export the whole register: the interchange JSON (default) or, with --csv, --excel or
    --xlsx FIL, the unit rows (see 'register import --help' for the columns): --csv with codes,
    --excel (semicolon CSV) and --xlsx (workbook) with Swedish headers and labels. Every form
    carries the register revision: importing it after later changes to the same records is
    refused with the conflicts.

    The coordinates of a unit with a protected address are left out unless --show-protected;
    importing such an export back keeps the coordinates the register has. CSV cells that a
    spreadsheet would take for a formula (starting with = + - @) get a leading ' (OWASP)."""
    if sum([json_output, csv_output, excel_output, xlsx is not None]) > 1:
        raise CliError(msg("cli.one_export_format"), 2)
    from ..register import csvio
    from .common import call

    doc = call("register.reads:export", show_protected=show_protected,
               http=("GET", "/register/export", {"show_protected": show_protected}))
    # the coordinates left out (a protected address, without --show-protected)
    hidden = 0 if show_protected else sum(1 for s in doc["suppliers"] for u in s["units"]
                                          if u.get("protected_address") and "location" not in u)
    if xlsx is not None:
        rows = csvio.export_xlsx(doc, xlsx)
        echo(say("cli.export.xlsx_written", n=rows, rows=fmt_number(rows), suppliers=len(doc["suppliers"]), file=str(xlsx),
                  revision=doc.get("revision")), err=True)
        text = None
    elif csv_output or excel_output:
        text = csvio.export_csv(doc, "excel" if excel_output else "plain")
    else:
        from ..jsondata import dumps  # json.dumps(…, ensure_ascii=False, indent=2)'s text, quicker

        text = safe_json(dumps(doc)) + "\n"
    if text is None:
        pass
    elif out:
        try:
            boundary.write_private(out, text)  # 0600: an export can hold protected addresses
        except OSError as exc:
            from ..errors import os_reason

            raise CliError(msg("file.cannot_write", file=out, reason=os_reason(exc)), 1) from None
        n = sum(len(s["units"]) for s in doc["suppliers"])
        echo(say("cli.export.written", n=n, suppliers=len(doc["suppliers"]), file=out), err=True)
    else:
        click.echo(text, nl=False)  # already safe: JSON escaped, CSV cells escaped
    if hidden:
        echo(f"{say('note.prefix')}: {say('cli.export.protected_hidden', n=hidden)}", err=True)


# --- show / search ---------------------------------------------------------------------------


def _shown_kind(doc: dict) -> str:
    """What a `register show` document is about: an agreement, a unit or a supplier."""
    if "agreement_id" in doc and "buyers" in doc:
        return "agreement"
    return "unit" if "unit_id" in doc else "supplier"


_CHECK_COLUMNS = [("kind", "Check", "check_kind"), ("result", "Result", "check_result"), ("value", "Value"),
                  ("performed_on", "Performed"), ("source", "Source")]


def _print_unit(d: dict) -> None:
    def field_(name: str) -> str:  # '  Leverantör:    ': the values line up
        return "  " + f"{say('cli.out.unit_field.' + name)}:".ljust(15)

    echo(say("cli.out.unit_head", unit=d["unit_id"], name=d["name"]))
    echo(f"{field_('supplier')}{d['supplier_name']} ({d['org_nr']})")
    if d.get("location_hidden"):
        where = f"{d['municipality']} {say('cli.out.location_hidden')}"
    elif d.get("location"):
        where = f"{d['municipality']} ({fmt_number(d['location']['lat'])}, {fmt_number(d['location']['lon'])})"  # the locale's numbers
        if d["protected_address"]:
            where += " " + say("cli.out.protected_address")
    else:
        where = d["municipality"]
    echo(f"{field_('where')}{where}")
    status = label(d["status"], "unit_status")
    if d.get("status_since"):
        status += " " + say("cli.out.unit_status_since", since=d["status_since"], by=d["status_changed_by"])
        if d.get("status_rule"):
            status += " " + say("cli.out.unit_status_rule", rule=d["status_rule"])
    echo(f"{field_('status')}{status}")
    if d.get("removal_reason"):
        echo(f"{field_('removed_for')}{label(d['removal_reason'], 'removal_reason')}")
    if d.get("status_note"):
        echo(f"{field_('note')}{d['status_note']}")
    echo(field_("places") + say("cli.out.unit_places", free=Number(d["free_places"]), places=Number(d["places"])))
    echo(field_("ages") + say("cli.out.unit_ages", min=d["age_min"], max=d["age_max"],
                              genders=", ".join(labels(d["genders"], "gender"))))
    echo(field_("target_groups") + (", ".join(labels(d["target_groups"], "target_group"))
                                    or say("cli.out.table_empty")))
    echo(field_("services") + ("; ".join(
        label(o["insats"], "insats") + (f" ({', '.join(labels(o['subcategories'], 'subcategory'))})"
                                        if o["subcategories"] else "") for o in d["offers"]
    ) or say("cli.out.table_empty")))
    print_table(d["routes"], [("route", "Route", "route"), ("insats", "Insats", "insats"),
                              ("agreement_id", "Agreement"), ("daily_price", "Daily price"),
                              ("price_confirmed_on", "Price confirmed"), ("valid_from", "From"),
                              ("valid_to", "To"), ("buyers", "Buyers"), ("status", "Status", "agreement_status")],
                title=say("cli.out.unit_routes_title"))
    print_table(d["permits"], [("dnr", "Dnr"), ("insats", "Insats", "insats"), ("status", "Status", "permit_status"),
                               ("target_groups", "Target groups", "target_group"), ("decided_on", "Decided")],
                title=say("cli.out.unit_permits_title"))
    print_table(d["checks"], _CHECK_COLUMNS, title=say("cli.out.unit_checks_title"))
    print_table(d["complaints"], [("id", "Id"), ("received_on", "Received"),
                                  ("category", "Category", "complaint_category"),
                                  ("outcome", "Outcome", "complaint_outcome"), ("note", "Note")],
                title=say("cli.out.unit_complaints_title"))
    print_table(d["visits"], [("visited_on", "Visited"), ("recorded_by", "By"), ("note", "Note")],
                title=say("cli.out.unit_visits_title"))
    print_table(d["proposals"], [("id", "Id"), ("kind", "Kind", "proposal_kind"), ("status", "Status", "proposal_status"),
                                 ("created_on", "Created"), ("message", "Why"), ("decided_by", "Decided by"),
                                 ("decision_note", "Note")], title=say("cli.out.unit_proposals_title"))


@register.command()
@click.argument("ident", metavar="ID")
@click.option("--show-protected", is_flag=True,
              help="Also show the location of a unit with a protected address (skyddad adress).")
@json_option
def show(ident: str, show_protected: bool, json_output: bool) -> None:
    """Show a supplier (by organisation number) with its units, a unit (by unit_id) with its
    routes, permits, checks, complaints, visits, proposals and current status since when, or an
    agreement (by agreement_id) with its status and units.

    Ids are matched ignoring case (u-1083 is U-1083); a unit's exact name also finds it, and a
    name that is not exact gets the closest units suggested.

    The location of a unit with a protected address is hidden unless --show-protected.
    """
    data = call("register.reads:show", ident, show_protected=show_protected,
                http=("GET", f"/register/{segment(ident)}", {"show_protected": show_protected}))
    if wants_json(json_output):
        print_json(data)
        return
    kind = _shown_kind(data)
    if kind == "agreement":
        echo(say("cli.out.agreement_head", agreement=data["agreement_id"], route=label(data["route"], "route"),
                 insats=label(data["insats"], "insats"), valid_from=data["valid_from"] or "…",
                 valid_to=data["valid_to"] or "…", buyers=", ".join(data["buyers"])))
        status = label(data["status"], "agreement_status")
        if data["status_since"]:
            status += " " + say("cli.out.unit_status_since", since=data["status_since"], by=data["status_changed_by"])
        echo(f"  {say('cli.out.unit_field.status')}: {status}")
        print_table(data["units"], [("unit_id", "Unit"), ("name", "Name"), ("org_nr", "Org nr"),
                                    ("daily_price", "Daily price"), ("unit_status", "Unit status", "unit_status")],
                    title=say("cli.out.agreement_units"))
        return
    if kind == "unit":
        _print_unit(data)
        return
    checks, units = data["checks"], data["units"]
    echo(say("cli.out.supplier_head", org_nr=data["org_nr"], name=data["name"],
             legal_form=label(data["legal_form"], "legal_form")))
    print_table(checks, _CHECK_COLUMNS, title=say("cli.out.checks_title"))
    print_table(
        [{**u, "insatser": [o["insats"] for o in u["offers"]],
          "routes_text": [label(r["route"], "route") + (f" {r['agreement_id']}" if r.get("agreement_id") else "")
                          + ("" if r["status"] == "active" else f" ({label(r['status'], 'agreement_status')})")
                          for r in u["routes"]],
          "status_text": label(u["status"], "unit_status")
          + (" " + say("cli.out.since", since=u["status_since"]) if u.get("status_since") else "")}
         for u in units],
        [("unit_id", "Unit"), ("name", "Name"), ("municipality", "Municipality"), ("status_text", "Status"),
         ("insatser", "Insatser", "insats"), ("routes_text", "Routes"), ("free_places", "Free")],
        title=say("cli.out.supplier_units_title"))


@register.command()
@click.argument("text")
@click.option("--insats", type=Code("insats"), help="Only units offering this insats (code or label).")
@click.option("--route", type=Code("route", Route), help=f"Only units with this route ({_codes(Route)}, or the label).")
@click.option("--status", type=Code("unit_status", UnitStatus),
              help=f"Only units with this register status ({_codes(UnitStatus)}, or the label).")
@click.option("--municipality", help="Only units in this municipality.")
@click.option("--limit", type=boundary.WholeParam(), default=20, show_default=True, help="Only the best N matches.")
@output_options
def search(text: str, insats, route, status, municipality, limit: int, out: Output) -> None:
    """Find units by organisation number or unit_id (exact, first), else by name (fuzzy,
    Swedish-aware: 'ängen' finds 'Ängen' first; 'angen', typed without å ä ö, also finds
    'Ängen' ahead of names that only look alike)."""
    filters = {"insats": insats, "route": route, "status": status, "municipality": municipality, "limit": limit}
    rows = call("register.reads:search", text, **filters,
                http=("GET", "/register/search", {"text": text, **filters}))
    out.listing(rows, [("unit_id", "Unit"), ("unit_name", "Unit name"), ("municipality", "Municipality"),
                       ("status", "Status", "unit_status"), ("org_nr", "Org nr"), ("supplier_name", "Supplier"),
                       ("score", "Score"), ("match", "Match", "search_match")],
                empty=say("cli.out.search_none", text=text))


# --- writes ----------------------------------------------------------------------------------


def _done(entry: dict, json_output: bool, message: str) -> None:
    """A change's history entry (--json: with what the register-status rules did), or the sentence."""
    if wants_json(json_output):
        print_json(entry)
    else:
        echo(message)


@register.command()
@click.argument("unit_id")
@click.argument("status", type=Code("unit_status", UnitStatus, metavar="STATUS"))
@click.option("--reason", type=Code("removal_reason", RemovalReason),
              help=f"Removal reason (code or label), required for 'removed' ({_codes(RemovalReason)}).")
@click.option("--note", type=boundary.NOTE, help="Why; for 'removed' the overall assessment (samlad bedömning), required.")
@click.option("--on", "on", help="Date the change takes effect (YYYY-MM-DD; default today).")
@by_option
@json_option
def status(unit_id: str, status: str, reason, note, on, actor, json_output: bool) -> None:
    effective_on = parse_date(on, "--on", past=True)
    fields = {"reason": reason, "note": note}
    entry = call("register.views:change_status", unit_id, status, actor=actor, effective_on=effective_on, **fields,
                 http=("POST", f"/register/units/{segment(unit_id)}/status", {},
                       {"status": status, "on": effective_on, **fields}))
    old, new = entry["changes"]["status"]
    _done(entry, json_output, say("cli.out.unit_status_changed", unit=entry["unit_id"], old=label(old, "unit_status"),
                                  new=label(new, "unit_status"), on=entry["effective_on"], by=entry["actor"]))


status.help = status.__doc__ = (
    f"Change a unit's register status ({_codes(UnitStatus)}).\n\n"
    "recommendation_stop only for a unit used through direct procurement; removed needs --reason and "
    "--note and is final unless the unit is re-admitted (published or watch) after a new entry check "
    "(passed credit_rating, tax_registration and enforcement_debt checks on or after the removal)."
)


@register.command()
@click.argument("agreement_id")
@click.argument("status", type=Code("agreement_status", AgreementStatus, metavar="STATUS"))
@click.option("--note", type=boundary.NOTE, help="Why (e.g. the investigation behind an order stop).")
@click.option("--supplier", "supplier", help="Only this supplier's participation (ORG_NR); without it INK's "
              "decision applies to every supplier on the agreement.")
@click.option("--on", "on", help="Date the change takes effect (YYYY-MM-DD; default today).")
@by_option
@json_option
def agreement(agreement_id: str, status: str, note, supplier, on, actor, json_output: bool) -> None:
    """Change a framework agreement's status (active, order_stop, terminated): one supplier's
    participation (--supplier ORG_NR) or, when INK decides so, every supplier's. Only framework
    agreements (ramavtal); terminated is final."""
    effective_on = parse_date(on, "--on", past=True)
    fields = {"note": note, "supplier": supplier}
    entry = call("register.views:change_agreement", agreement_id, status, actor=actor, effective_on=effective_on,
                 **fields, http=("POST", f"/register/agreements/{segment(agreement_id)}/status", {},
                                 {"status": status, "on": effective_on, **fields}))
    old, new = entry["changes"]["status"]
    whom = say("cli.out.for_supplier", org_nr=entry["org_nr"]) if supplier else ""
    _done(entry, json_output,
          say("cli.out.agreement_status_changed", agreement=entry["entity_id"], whom=whom,
              old=label(old, "agreement_status"), new=label(new, "agreement_status"), on=entry["effective_on"],
              by=entry["actor"]))


@register.command()
@click.argument("org_nr")
@click.argument("kind", type=Code("check_kind", CheckKind, metavar="KIND"))
@click.option("--result", required=True, type=Code("check_result", CheckResult),
              help=f"Result of the check ({_codes(CheckResult)}, or the label: godkänd, underkänd, …); "
              "'unavailable' (source unreachable) never counts as a pass.")
@click.option("--value", type=DECIMAL, help="A value, e.g. the credit rating (0–100); 12,5 or 12.5.")
@click.option("--on", "on", required=True, help="Date the check was performed (YYYY-MM-DD).")
@click.option("--source", type=boundary.NOTE, help="Where the result came from (e.g. kreditupplysning).")
@rules_option
@by_option
@json_option
def check(org_nr: str, kind: str, result: str, value, on, source, rules_dir, actor, json_output: bool) -> None:
    performed_on = parse_date(on, "--on", past=True)
    local_only("--rules", rules_dir)
    ruleset = _ruleset(rules_dir)  # a broken --rules directory is refused before anything is written
    fields = {"value": value, "source": source}
    entry = call("register.views:record_check", org_nr, kind, result, performed_on=performed_on, actor=actor,
                 ruleset=ruleset, **fields,
                 http=("POST", f"/register/suppliers/{segment(org_nr)}/checks", {},
                       {"kind": kind, "result": result, "on": performed_on, **fields}))
    _done(entry, json_output, say("cli.out.check_recorded", org_nr=entry["org_nr"],
                                  kind=label(entry["changes"]["kind"], "check_kind"),
                                  result=label(entry["changes"]["result"], "check_result").lower(),
                                  on=entry["effective_on"], by=entry["actor"]) + _applied_text(entry["rules"]))


check.help = check.__doc__ = (
    f"Record a check (kontroll) of a supplier. KIND: {_codes(CheckKind)}.\n\n"
    "Checks accumulate; the latest of a kind is current."
)


@register.command()
@click.argument("unit_id")
@click.option("--dnr", required=True, help="IVO's diary number of the decision.")
@click.option("--status", "permit_status", required=True, type=Code("permit_status", PermitStatus),
              help=f"Permit status ({_codes(PermitStatus)}, or the label).")
@click.option("--on", "on", required=True, help="Date of IVO's decision (YYYY-MM-DD).")
@click.option("--insats", type=Code("insats"), help="The insats the permit covers, code or label (required for a new dnr).")
@click.option("--target-group", "target_groups", multiple=True,
              help="A target group the permit covers (repeat for several); replaces the permit's list.")
@rules_option
@by_option
@json_option
def permit(unit_id: str, dnr: str, permit_status: str, on, insats, target_groups, rules_dir, actor,
           json_output: bool) -> None:
    """Record an IVO permit decision for a unit: a new permit, or a change (e.g. revoked) of one."""
    decided_on = parse_date(on, "--on", past=True)
    local_only("--rules", rules_dir)
    ruleset = _ruleset(rules_dir)  # a broken --rules directory is refused before anything is written
    fields = {"dnr": dnr, "status": permit_status, "insats": insats, "target_groups": list(target_groups) or None}
    entry = call("register.views:record_permit", unit_id, decided_on=decided_on, actor=actor, ruleset=ruleset,
                 **fields, http=("POST", f"/register/units/{segment(unit_id)}/permits", {},
                                 {"on": decided_on, **fields}))
    old, new = entry["changes"]["status"]
    _done(entry, json_output, say("cli.out.permit_recorded", permit=entry["entity_id"], unit=entry["unit_id"],
                                  old=label(old, "permit_status") if old else say("cli.out.new_permit_marker"),
                                  new=label(new, "permit_status"), on=entry["effective_on"], by=entry["actor"])
          + _applied_text(entry["rules"]))


@register.command()
@click.argument("unit_id")
@click.option("--category", required=True, type=Code("complaint_category", ComplaintCategory),
              help=f"What it is about ({_codes(ComplaintCategory)}, or the label).")
@click.option("--on", "on", required=True, help="Date the complaint was received (YYYY-MM-DD).")
@click.option("--outcome", default="pending", show_default=True, type=Code("complaint_outcome", ComplaintOutcome),
              help=f"Outcome ({_codes(ComplaintOutcome)}, or the label).")
@click.option("--note", type=boundary.NOTE, help="A short description (no names or personal identity numbers).")
@click.option("--received-by", default="Spink", show_default=True,
              help="The organisation that received it (INK keeps a queue per receiving organisation).")
@rules_option
@by_option
@json_option
def complaint(unit_id: str, category: str, on, outcome: str, note, received_by, rules_dir, actor,
              json_output: bool) -> None:
    """Record a complaint (synpunkt) on a unit: a case routed to INK (framework suppliers) or
    Spink; worked on with `placering complaint update`."""
    received_on = parse_date(on, "--on", past=True)
    local_only("--rules", rules_dir)
    fields = {"category": category, "outcome": outcome, "note": note, "received_by": received_by}
    entry = call("register.views:record_complaint", unit_id, received_on=received_on, actor=actor,
                 rules_dir=rules_dir, **fields, http=("POST", f"/register/units/{segment(unit_id)}/complaints", {},
                                                       {"on": received_on, **fields}))
    _done(entry, json_output, say("cli.out.complaint_recorded", id=entry["entity_id"], unit=entry["unit_id"],
                                  category=label(entry["changes"]["category"], "complaint_category"),
                                  outcome=label(entry["changes"]["outcome"], "complaint_outcome").lower(),
                                  handler=label(entry["changes"]["handler"], "complaint_handler"), by=entry["actor"])
          + _applied_text(entry["rules"]))


@register.command()
@click.argument("unit_id")
@click.option("--on", "on", required=True, help="Date of the visit (YYYY-MM-DD).")
@click.option("--note", type=boundary.NOTE, help="What was seen (no names or personal identity numbers).")
@by_option
@json_option
def visit(unit_id: str, on, note, actor, json_output: bool) -> None:
    """Record a site visit (verksamhetsbesök) at a unit; `audit visits` reads it."""
    visited_on = parse_date(on, "--on", past=True)
    entry = call("register.views:record_visit", unit_id, visited_on=visited_on, actor=actor, note=note,
                 http=("POST", f"/register/units/{segment(unit_id)}/visits", {}, {"on": visited_on, "note": note}))
    _done(entry, json_output, say("cli.out.visit_recorded", unit=entry["unit_id"], on=visited_on.isoformat(),
                                  by=entry["actor"]))


# --- history ---------------------------------------------------------------------------------


@register.command()
@click.argument("ident", metavar="[ID]", required=False)
@click.option("--unit", "unit_id", help="Only entries about this unit (its status, permits, complaints).")
@click.option("--supplier", "org_nr", help="Only entries about this supplier (organisation number) and its units.")
@click.option("--actor", help="Only changes made by this actor.")
@click.option("--kind", help="Only this kind of entity or action (unit, supplier, agreement, permit, check, "
              "complaint, proposal, request, review; or created, updated, status, agreement_status, …).")
@click.option("--since", help="Only entries effective on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only entries effective on or before this date (YYYY-MM-DD).")
@click.option("--limit", type=boundary.WholeParam(), help="Only the latest N entries.")
@click.option("--show-protected", is_flag=True, help="Show the location of units with a protected address.")
@output_options
def history(ident, unit_id, org_nr, actor, kind, since, until, limit, show_protected: bool, out: Output) -> None:
    """Every change to the register: who, when, why, which rule.

    ID may be a unit_id (the unit's entries and those of its agreements), an organisation
    number (the supplier and its units) or an agreement_id. Entries are listed oldest first
    by effective date; --limit keeps the latest N.
    """
    since_d, until_d = parse_date(since, "--since"), parse_date(until, "--until")
    filters = {"unit_id": unit_id, "org_nr": org_nr, "actor": actor, "kind": kind, "since": since_d,
               "until": until_d, "limit": limit, "show_protected": show_protected}
    http = ("GET", "/register/history", {"ident": ident, **filters})
    # A table shows the latest entries (and says how many there are); --all, --csv, --json all.
    if out.all or out.machine or app().client() is not None:
        entries = call("register.reads:history", ident, **filters, http=http)
        total, shown = len(entries), entries if out.all or out.machine else entries[-TABLE_ROWS:]
    else:  # counted by the database, only the rows shown read
        page = call("register.reads:history_tail", ident, rows=TABLE_ROWS, **filters, http=http)
        total, shown = page["total"], page["entries"]
        entries = shown  # (a table prints the section's rows; the document is --json's)
    if not out.machine:
        for e in shown:  # a person reads the time as Swedish time (fmt_datetime)
            e["recorded_at"] = datetime.fromisoformat(e["recorded_at"]) if e.get("recorded_at") else None
    for e in shown:  # only the rows printed (the demo register's whole history is 16,000 entries)
        e["change"] = _change_text(e["changes"] or {}, e["action"], e["kind"], people=not out.codes)
        e["entity"] = f"{label(e['kind'], 'entity_kind')} {e['entity_id']}"
    out.emit(entries, [Section(
        "history", None if len(shown) == total else
        say("cli.out.history_showing", count=fmt_number(total), shown=len(shown)), shown,
        [("effective_on", "Effective"), ("recorded_at", "Recorded"), ("actor", "Actor"), ("entity", "Entity"),
         ("action", "Action", "history_action"), ("change", "Change"), ("reason", "Reason", "removal_reason"),
         ("rule_id", "Rule"),
         ("note", "Note")],
        ["id", "effective_on", "recorded_at", "actor", "kind", "entity_id", "action", "change", "reason",
         "rule_id", "note", "unit_id", "org_nr"],
        empty=say("cli.out.history_none"))])


# --- register-status rules and the proposals worklist (owned by the rules engine) ----------------


def _ruleset(rules_dir: Path | None):
    """The rules of `--rules DIR`, or None for the current ones."""
    from ..rules import load_ruleset

    return load_ruleset(rules_dir) if rules_dir else None


# What an applied rule did, by its action: the message id.
_APPLIED_TEXT = {"unit_status": "cli.out.applied.unit_status", "agreement_status": "cli.out.applied.agreement_status",
                 "proposal": "cli.out.applied.proposal", "proposal_exists": "cli.out.applied.proposal_exists",
                 "unchanged": "cli.out.applied.unchanged", "made_concurrently": "cli.out.applied.made_concurrently",
                 "superseded": "cli.out.applied.superseded", "unevaluable": "cli.out.applied.unevaluable",
                 "flag": "cli.out.applied.flag"}
# The label kind of an applied rule's statuses, by what it did.
_APPLIED_KIND = {"unit_status": "unit_status", "agreement_status": "agreement_status", "proposal": "proposal_kind",
                 "proposal_exists": "proposal_kind"}


def _applied_text(applied: list) -> str:
    """What the rules did, one line each (empty when no rule fired), in the people's language."""
    lines = []
    for a in applied:
        a = a.as_dict() if hasattr(a, "as_dict") else a  # the rules' Applied, or its document from a server
        d = {k: (v if v is not None else "") for k, v in a.items()}
        kind = _APPLIED_KIND.get(a["action"]) or ("agreement_status" if a.get("agreement_id") else "unit_status")
        for key in ("status_from", "status_to"):
            if d[key]:
                d[key] = label(d[key], kind).lower() if a["action"] == "unchanged" else label(d[key], kind)
        what = say(_APPLIED_TEXT[a["action"]], **d) if a["action"] in _APPLIED_TEXT else a["action"]
        lines.append("\n  " + say("cli.out.applied_line", rule=a["rule"], what=" ".join(what.split()),
                                   message=a["message"]))
    return "".join(lines)


@register.group(cls=PlaceringGroup, invoke_without_command=True)
@click.option("--status", "proposal_status", type=Code("proposal_status", ["open", "accepted", "dismissed"]),
              help="Only proposals with this status (code or label).")
@click.option("--kind", "kind", type=Code("proposal_kind"), help="Only proposals of this kind (code or label).")
@click.option("--unit", "unit_id", help="Only proposals about this unit.")
@click.option("--supplier", "org_nr", help="Only proposals about this supplier (organisation number).")
@click.option("--since", help="Only proposals created on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only proposals created on or before this date (YYYY-MM-DD).")
@output_options
@click.pass_context
def proposals(ctx: click.Context, proposal_status: str | None, kind: str | None, unit_id: str | None,
              org_nr: str | None, since: str | None, until: str | None, out: Output) -> None:
    """The maintainers' worklist raised by register-status rules (deepened control, re-publish, …).

    Without a subcommand: list the proposals. `accept ID` / `dismiss ID` decide one, with a note."""
    if ctx.invoked_subcommand is not None:
        return
    filters = {"status": proposal_status, "kind": kind, "unit_id": unit_id, "org_nr": org_nr,
               "since": parse_date(since, "--since"), "until": parse_date(until, "--until")}
    # read without SQLAlchemy where it can (register/reads.py), else the ORM view
    rows = call("register.reads:proposals", **filters, http=("GET", "/register/proposals", filters))
    out.listing(rows, [("id", "ID"), ("kind", "Kind", "proposal_kind"), ("status", "Status", "proposal_status"),
                       ("unit_id", "Unit"), ("org_nr", "Org nr"), ("created_on", "Created"), ("message", "Why"),
                       ("rule_id", "Rule"), ("decided_by", "Decided by"), ("decision_note", "Note")],
                csv_columns=["id", "kind", "status", "org_nr", "unit_id", "created_on", "rule_id", "rules_version",
                             "message", "decided_by", "decided_at", "decision_note"],
                empty=say("cli.out.proposals_none"))


def _decide(proposal_id: int, accept: bool, note: str | None, actor, json_output: bool) -> None:
    data = call("register.views:decide_proposal", proposal_id, accept=accept, actor=actor, note=note,
                http=("POST", f"/register/proposals/{proposal_id}/{'accept' if accept else 'dismiss'}", {},
                      {"note": note}))
    if wants_json(json_output):
        print_json(data)
        return
    echo(say("cli.out.proposal_decided", id=data["id"], kind=label(data["kind"], "proposal_kind"),
             target=data["unit_id"] or data["org_nr"], status=label(data["status"], "proposal_status").lower(),
             by=data["decided_by"]))


@proposals.command("accept")
@click.argument("proposal_id", type=boundary.WholeParam(1))
@click.option("--note", required=True, type=boundary.NOTE, help="Why (recorded in history).")
@by_option
@json_option
def accept_proposal(proposal_id: int, note: str, actor, json_output: bool) -> None:
    """Accept a proposal. The change itself (e.g. re-publishing) is made with `register status`."""
    _decide(proposal_id, True, note, actor, json_output)


@proposals.command("dismiss")
@click.argument("proposal_id", type=boundary.WholeParam(1))
@click.option("--note", required=True, type=boundary.NOTE, help="Why (recorded in history).")
@by_option
@json_option
def dismiss_proposal(proposal_id: int, note: str, actor, json_output: bool) -> None:
    """Dismiss a proposal, saying why."""
    _decide(proposal_id, False, note, actor, json_output)


# --- entry check (kontroll inför tillägg i utförarregistret) -----------------------------------


@register.group(cls=PlaceringGroup)
def entry() -> None:
    """Entry check: units of new (or re-admitted) suppliers wait as pending_entry, never asked or
    recommended, until the checks required for their routes have passed and a maintainer
    approves (parameter entry_checks_required in rules/parameters/entry.yaml)."""


@entry.command("list")
@click.option("--on", "on", help="Judge the checks as of this date (YYYY-MM-DD; default today).")
@click.option("--rules", "rules_path", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Rules directory (default: the current rules).")
@output_options
def entry_list(on, rules_path, out: Output) -> None:
    """Units waiting for their entry check, with each required check: passed, or why not."""
    on_d = parse_date(on, "--on")
    local_only("--rules", rules_path)
    rows = call("register.views:pending_entries", on=on_d, ruleset=_ruleset(rules_path),
                http=("GET", "/register/entries", {"on": on_d}))
    from ..register.entry import check_kind_said, why_message
    from .messages import said

    def _capital(text: str) -> str:  # a list item starts with a capital: 'Kreditupplysning: …'
        return text[:1].upper() + text[1:]

    table = [{"unit": r["unit_id"], "supplier": f"{r['supplier']} ({r['org_nr']})",
              "routes": ", ".join(label(x, "route") for x in r["routes"]),
              "since": r["pending_since"], "ready": not r["missing"],
              "missing": "; ".join(f"{_capital(said(check_kind_said(c['kind'])))}: {said(why_message(c) or c['why'])}"
                                   for c in r["checks"] if not c["passed"]),
              "last": (f"{label(r['last_decision']['action'], 'history_action')} {r['last_decision']['on']}: "
                       f"{r['last_decision']['note']}" if r["last_decision"] else "")} for r in rows]
    out.emit(rows, [Section(
        "entries", None, table,
        [("unit", "Unit"), ("supplier", "Supplier"), ("routes", "Routes"), ("since", "Pending since"),
         ("ready", "Checks passed"), ("missing", "Not passed"), ("last", "Last decision")],
        empty=say("cli.out.entries_none"))])


def _entry_decide(ident: str, approve: bool, text: str, on, rules_path, actor, json_output: bool) -> None:
    on_d = parse_date(on, "--on")
    local_only("--rules", rules_path)
    ruleset = _ruleset(rules_path)
    entries = call("register.views:decide_entry", ident, approve=approve, text=text, actor=actor, on=on_d,
                   ruleset=ruleset, http=("POST", f"/register/entries/{segment(ident)}/"
                                                  f"{'approve' if approve else 'reject'}", {},
                                          {"note": text, "on": on_d}))
    if wants_json(json_output):
        print_json(entries)
        return
    for e in entries:
        echo(say("cli.out.entry_approved" if approve else "cli.out.entry_rejected", unit=e["unit_id"],
                 on=e["effective_on"], by=e["actor"]))


@entry.command("approve")
@click.argument("ident", metavar="UNIT_ID|ORG_NR")
@click.option("--note", required=True, help="What the entry check found (kept in history).")
@click.option("--on", "on", help="Date of the decision (YYYY-MM-DD; default today).")
@click.option("--rules", "rules_path", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Rules directory (default: the current rules).")
@by_option
@json_option
def entry_approve(ident: str, note: str, on, rules_path, actor, json_output: bool) -> None:
    """Approve the entry of a pending unit (or of every pending unit of a supplier): refused unless
    every required check has passed. The unit is published."""
    _entry_decide(ident, True, note, on, rules_path, actor, json_output)


@entry.command("reject")
@click.argument("ident", metavar="UNIT_ID|ORG_NR")
@click.option("--reason", required=True, help="Why the entry is rejected (kept in history).")
@click.option("--on", "on", help="Date of the decision (YYYY-MM-DD; default today).")
@click.option("--rules", "rules_path", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Rules directory (default: the current rules).")
@by_option
@json_option
def entry_reject(ident: str, reason: str, on, rules_path, actor, json_output: bool) -> None:
    """Reject the entry of a pending unit (or of every pending unit of a supplier), with the
    reason. The unit stays pending_entry: never asked or recommended."""
    _entry_decide(ident, False, reason, on, rules_path, actor, json_output)
