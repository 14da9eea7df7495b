"""`placering register …`: the maintainers' commands (registervård) over placering.register."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import or_, select

from .. import boundary
from ..boundary import load_json
from ..errors import Problem, ValidationError
from ..register import csvio, service
from ..register.schema import num
from ..register.search import search as search_register
from ..storage import open_session, transaction
from ..storage.history import require_actor
from ..storage.models import Complaint, History, Proposal, Supplier, Unit, UnitRoute, Visit
from ..text import nfc
from ..display import fmt_number
from ..labels import labels
from .changes import change_text as _change_text
from .messages import swedish
from ..vocabulary import (
    CheckKind,
    CheckResult,
    ComplaintCategory,
    ComplaintOutcome,
    PermitStatus,
    RemovalReason,
    Route,
    UnitStatus,
    label,
)
from . import cli
from ..display import safe_json
from .common import (
    DECIMAL,
    TABLE_ROWS,
    CliError,
    Output,
    Section,
    echo,
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


def _codes(enum) -> str:
    return ", ".join(m.value for m in enum)


@cli.group(cls=PlaceringGroup)
def register() -> None:
    """The supplier register (utförarregister): import, search, status, checks, history."""


# --- import / export ------------------------------------------------------------------------


def _read_input(path: str) -> tuple[dict, list[str], object]:
    """(document, notes for stderr, locate) from a JSON or CSV file, by extension or content."""
    try:
        data = Path(path).read_bytes() if path != "-" else click.get_binary_stream("stdin").read()
    except OSError as exc:
        raise ValidationError(Problem(f"cannot read: {exc.strerror}", file=path)) from None
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    is_json = path.lower().endswith(".json") or (not path.lower().endswith(".csv") and head in (b"{", b"["))
    if not is_json:
        csv_doc, notes = csvio.read_csv(data, path)
        return csv_doc.doc, notes, csv_doc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return load_json(data, file=path), [], None


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
    valid_to, buyers, agreement_status, reserved_nonprofit. The CSV carries no permits or
    checks (those in the register are kept). It must be UTF-8 (a byte-order mark is fine); a
    Latin-1 file is read as such when unambiguous (said on stderr), otherwise rejected.
    """
    actor = require_actor(actor)
    effective_on = parse_date(on, "--on", past=True)
    engine = app().engine()
    doc, notes, csv_doc = _read_input(file)
    for note in notes:
        echo(f"Obs: {swedish(note)}", err=True)
    from ..rules import load_ruleset

    ruleset = load_ruleset(rules_path)
    # The parsed file lives until the command ends (at national size millions of objects).
    from ..memory import freeze_long_lived

    freeze_long_lived()
    with transaction(engine) as session:
        summary = service.import_document(
            session, doc, actor=actor, source=file, dry_run=dry_run, effective_on=effective_on,
            locate=csv_doc.locate if csv_doc is not None else None, keep_order=csv_doc is not None,
            move_units=move_units, apply_status=apply_status, skip_conflicts=skip_conflicts, ruleset=ruleset)
        if dry_run:
            session.rollback()
    result = summary.as_dict()
    if wants_json(json_output):
        print_json(result)
        return
    verb = "Skulle importera" if dry_run else "Importerade"
    s, u = result["suppliers"], result["units"]
    echo(f"{verb} {file}: leverantörer {s['created']} nya, {s['updated']} ändrade, {s['unchanged']} "
         f"oförändrade; enheter {u['created']} nya, {u['updated']} ändrade, {u['unchanged']} oförändrade; "
         f"{result['agreements_changed']} ändringar av avtalsstatus.")

    def status_label(kind: str, code) -> str:
        return label(code, "agreement_status" if kind == "agreement" else
                     "permit_status" if kind == "permit" else "unit_status") if code else "(ny)"

    changed = [c for c in result["status_changes"] if c["why"] != "created" or c["to"] == "pending_entry"]
    if changed:
        print_table([{"what": f"{label(c['kind'], 'entity_kind')} {c['id']}"
                      + (f" ({c['org_nr']})" if c["kind"] == "agreement" else ""),
                      "change": f"{status_label(c['kind'], c['from'])} → {status_label(c['kind'], c['to'])}",
                      "why": swedish(c["why"])} for c in changed],
                    [("what", "Enhet / avtal"), ("change", "Status"), ("why", "Varför")],
                    title="Statusändringar" + (" (inget skrivet: --dry-run)" if dry_run else ""),
                    # A first load of the national register enters 20,000 units: the first rows
                    # and the count (rendering them all took 15 s); --dry-run lists every one.
                    limit=None if dry_run else TABLE_ROWS, hint="--dry-run visar alla, --json ger alla rader")
    if result["kept"]:
        print_table([{"what": f"{label(k['kind'], 'entity_kind')} {k['id']}",
                      "register": status_label(k["kind"], k["register"]) if k.get("field") == "status"
                      else (k["register"] or "(ny)"),
                      "file": status_label(k["kind"], k["file"]) if k.get("field") == "status" else k["file"],
                      "why": swedish(k["why"])} for k in result["kept"]],
                    [("what", "Post"), ("register", "Behållet"), ("file", "Filen säger"), ("why", "Varför")],
                    title="Behållet som registret beslutat", limit=None if dry_run else TABLE_ROWS,
                    hint="--dry-run visar alla, --json ger alla rader")
    if result["conflicts"]:
        echo(f"Behöll registrets värde för {len(result['conflicts'])} fält som ändrats efter filens revision "
             f"{result['revision']} (--skip-conflicts).")
    if result["published_without_entry_checks"]:
        print_table([{"unit": p["unit_id"], "org_nr": p["org_nr"], "status": p["status"],
                      "missing": ", ".join(label(m, "check_kind") for m in p["missing"])}
                     for p in result["published_without_entry_checks"]],
                    [("unit", "Unit"), ("org_nr", "Org nr"), ("status", "Status", "unit_status"),
                     ("missing", "Inträdeskontroller som inte är godkända")],
                    title="Publicerade med --apply-status utan godkända inträdeskontroller")
    if dry_run and summary.changes:
        shown = summary.changes[:DRY_RUN_ROWS]
        print_table(
            [{"entity": f"{label(c['entity_kind'], 'entity_kind')} {c['entity_id']}", "action": c["action"],
              "change": _change_text(c.get("changes") or {}, c["action"], c["entity_kind"], people=True)}
             for c in shown],
            [("entity", "Entity"), ("action", "Action", "history_action"), ("change", "Change")],
            title="Ändringar (inget skrivet: --dry-run)")
        if len(summary.changes) > len(shown):
            echo(f"… och {len(summary.changes) - len(shown)} ändringar till (--json listar alla).")


@register.command()
@click.option("--json", "json_output", is_flag=True, help="The interchange JSON (the default).")
@click.option("--csv", "csv_output", is_flag=True, help="The unit CSV (comma, UTF-8, decimal point).")
@click.option("--excel", "excel_output", is_flag=True,
              help="The unit CSV for Swedish Excel (semicolon, UTF-8 with BOM, decimal comma).")
@click.option("--show-protected", is_flag=True,
              help="Include the coordinates of units with a protected address (left out otherwise).")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of stdout.")
def export(json_output: bool, csv_output: bool, excel_output: bool, show_protected: bool, out: str | None) -> None:
    """Export the whole register: the interchange JSON (default) or, with --csv or --excel, the
    unit CSV (see 'register import --help' for its columns).

    The coordinates of a unit with a protected address are left out unless --show-protected;
    importing such an export back keeps the coordinates the register has. CSV cells that a
    spreadsheet would take for a formula (starting with = + - @) get a leading ' (OWASP)."""
    if sum([json_output, csv_output, excel_output]) > 1:
        raise CliError("give one of --json, --csv and --excel", 2)
    engine = app().engine()
    with open_session(engine) as session:
        doc = service.export_document(session)
    hidden = 0
    if not show_protected:
        for s in doc["suppliers"]:
            for u in s["units"]:
                if u.get("protected_address") and u.pop("location", None) is not None:
                    hidden += 1
    if csv_output or excel_output:
        text = csvio.export_csv(doc, "excel" if excel_output else "plain")
    else:
        text = safe_json(json.dumps(doc, ensure_ascii=False, indent=2)) + "\n"
    if out:
        try:
            boundary.write_private(out, text)  # 0600: an export can hold protected addresses
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror}", 1) from None
        n = sum(len(s["units"]) for s in doc["suppliers"])
        echo(f"Skrev {len(doc['suppliers'])} leverantörer och {n} enheter till {out}.", err=True)
    else:
        click.echo(text, nl=False)  # already safe: JSON escaped, CSV cells escaped
    if hidden:
        echo(f"Obs: koordinaterna för {hidden} enhet(er) med skyddad adress är utelämnade "
             "(--show-protected tar med dem).", err=True)


# --- show / search ---------------------------------------------------------------------------


def _unit_view(session, unit: Unit, show_protected: bool, checks: list[dict] | None = None) -> dict:
    """One unit for `register show`; `checks` are its supplier's when the caller already has them."""
    data = service.unit_document(session, unit)
    supplier = service.supplier_of(session, unit)
    if unit.protected_address and not show_protected:
        data.pop("location", None)
        data["location_hidden"] = True
    since = service.status_since(session, unit.unit_id)
    data["org_nr"] = supplier.org_nr
    data["supplier_name"] = supplier.name
    data["status_since"] = since.effective_on.isoformat() if since else None
    data["status_changed_by"] = since.actor if since else None
    data["status_rule"] = since.rule_id if since else None
    data["checks"] = service.supplier_checks(session, supplier) if checks is None else checks
    data["complaints"] = [
        {"id": c.id, "received_on": c.received_on.isoformat(), "category": c.category, "outcome": c.outcome,
         "note": c.note, "recorded_by": c.recorded_by}
        for c in session.scalars(select(Complaint).where(Complaint.unit_id == unit.id)
                                 .order_by(Complaint.received_on, Complaint.id))
    ]
    data["visits"] = [
        {"id": v.id, "visited_on": v.visited_on.isoformat(), "note": v.note, "recorded_by": v.recorded_by}
        for v in session.scalars(select(Visit).where(Visit.unit_id == unit.id)
                                 .order_by(Visit.visited_on, Visit.id))
    ]
    data["proposals"] = [
        {"id": p.id, "kind": p.kind, "status": p.status, "created_on": p.created_on, "rule_id": p.rule_id,
         "message": p.message, "decided_by": p.decided_by, "decision_note": p.decision_note}
        for p in session.scalars(select(Proposal).where(
            or_(Proposal.unit_id == unit.unit_id,
                (Proposal.unit_id.is_(None)) & (Proposal.org_nr == supplier.org_nr))).order_by(Proposal.id))
    ]
    return data


def _agreement_view(session, agreement_id: str) -> dict:
    routes = service.agreement_routes(session, agreement_id)
    first = routes[0]
    last = session.scalars(select(History).where(History.entity_kind == "agreement",
                                                 History.entity_id == first.agreement_id)
                           .order_by(History.effective_on.desc(), History.id.desc()).limit(1)).first()
    # The agreement's units with their suppliers in one query, not two lookups per route.
    unit_of = {u.id: (u, org_nr) for u, org_nr in session.execute(
        select(Unit, Supplier.org_nr).join(Supplier, Supplier.id == Unit.supplier_id)
        .join(UnitRoute, UnitRoute.unit_id == Unit.id).where(UnitRoute.agreement_id == first.agreement_id))}
    units = []
    for r in routes:
        unit, org_nr = unit_of[r.unit_id]
        units.append({"unit_id": unit.unit_id, "name": unit.name, "org_nr": org_nr,
                      "daily_price": num(r.daily_price), "unit_status": unit.status})
    return {"agreement_id": first.agreement_id, "route": first.route, "insats": first.insats,
            "valid_from": first.valid_from, "valid_to": first.valid_to, "buyers": first.buyers,
            "status": first.status, "status_since": last.effective_on if last else None,
            "status_changed_by": last.actor if last else None, "units": units}


_CHECK_COLUMNS = [("kind", "Check", "check_kind"), ("result", "Result", "check_result"), ("value", "Value"),
                  ("performed_on", "Performed"), ("source", "Source")]


def _print_unit(d: dict) -> None:
    echo(f"Enhet {d['unit_id']}: {d['name']}")
    echo(f"  Leverantör:    {d['supplier_name']} ({d['org_nr']})")
    if d.get("location_hidden"):
        where = f"{d['municipality']} (skyddad adress: läget visas inte; --show-protected visar det)"
    elif d.get("location"):
        where = f"{d['municipality']} ({fmt_number(d['location']['lat'])}, {fmt_number(d['location']['lon'])})"
        if d["protected_address"]:
            where += " SKYDDAD ADRESS"
    else:
        where = d["municipality"]
    echo(f"  Var:           {where}")
    status = label(d["status"], "unit_status")
    if d.get("status_since"):
        status += f" sedan {d['status_since']}, beslutat av {d['status_changed_by']}"
        if d.get("status_rule"):
            status += f" (regel {d['status_rule']})"
    echo(f"  Status:        {status}")
    if d.get("removal_reason"):
        echo(f"  Borttagen för: {label(d['removal_reason'], 'removal_reason')}")
    if d.get("status_note"):
        echo(f"  Anteckning:    {d['status_note']}")
    echo(f"  Platser:       {fmt_number(d['free_places'])} lediga av {fmt_number(d['places'])}")
    echo(f"  Åldrar:        {d['age_min']}–{d['age_max']} år; kön: {', '.join(labels(d['genders'], 'gender'))}")
    echo(f"  Målgrupper:    {', '.join(labels(d['target_groups'], 'target_group')) or '(inga)'}")
    echo("  Insatser:      " + ("; ".join(
        label(o["insats"], "insats") + (f" ({', '.join(labels(o['subcategories'], 'subcategory'))})"
                                        if o["subcategories"] else "") for o in d["offers"]
    ) or "(inga)"))
    print_table(d["routes"], [("route", "Route", "route"), ("insats", "Insats", "insats"),
                              ("agreement_id", "Agreement"), ("daily_price", "Daily price"), ("valid_from", "From"),
                              ("valid_to", "To"), ("buyers", "Buyers"), ("status", "Status", "agreement_status")],
                title="Regiformer")
    print_table(d["permits"], [("dnr", "Dnr"), ("insats", "Insats", "insats"), ("status", "Status", "permit_status"),
                               ("target_groups", "Target groups", "target_group"), ("decided_on", "Decided")],
                title="IVO-tillstånd")
    print_table(d["checks"], _CHECK_COLUMNS, title="Leverantörskontroller")
    print_table(d["complaints"], [("id", "Id"), ("received_on", "Received"),
                                  ("category", "Category", "complaint_category"),
                                  ("outcome", "Outcome", "complaint_outcome"), ("note", "Note")], title="Synpunkter")
    print_table(d["visits"], [("visited_on", "Visited"), ("recorded_by", "By"), ("note", "Note")], title="Besök")
    print_table(d["proposals"], [("id", "Id"), ("kind", "Kind", "proposal_kind"), ("status", "Status", "proposal_status"),
                                 ("created_on", "Created"), ("message", "Why"), ("decided_by", "Decided by"),
                                 ("decision_note", "Note")], title="Förslag från registerreglerna")


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
    engine = app().engine()
    with open_session(engine) as session:
        kind, obj = service.resolve_id(session, ident)
        if kind == "agreement":
            data = _agreement_view(session, obj)
            if wants_json(json_output):
                print_json(data)
                return
            echo(f"Avtal {data['agreement_id']}: {label(data['route'], 'route')} för "
                 f"{label(data['insats'], 'insats')}, {data['valid_from'] or '…'} – {data['valid_to'] or '…'}; "
                 f"köpare: {', '.join(data['buyers'])}")
            status = label(data["status"], "agreement_status")
            if data["status_since"]:
                status += f" sedan {data['status_since']}, beslutat av {data['status_changed_by']}"
            echo(f"  Status: {status}")
            print_table(data["units"], [("unit_id", "Unit"), ("name", "Name"), ("org_nr", "Org nr"),
                                        ("daily_price", "Daily price"), ("unit_status", "Unit status", "unit_status")],
                        title="Enheter på avtalet")
            return
        if kind == "unit":
            data = _unit_view(session, obj, show_protected)
            if wants_json(json_output):
                print_json(data)
            else:
                _print_unit(data)
            return
        supplier: Supplier = obj
        checks = service.supplier_checks(session, supplier)  # once, not again for every unit
        units = [_unit_view(session, u, show_protected, checks)
                 for u in session.scalars(select(Unit).where(Unit.supplier_id == supplier.id).order_by(Unit.id))]
    data = {"org_nr": supplier.org_nr, "name": supplier.name, "legal_form": supplier.legal_form,
            "checks": checks, "units": units}
    if wants_json(json_output):
        print_json(data)
        return
    echo(f"Leverantör {supplier.org_nr}: {supplier.name} ({label(supplier.legal_form, 'legal_form')})")
    print_table(checks, _CHECK_COLUMNS, title="Kontroller")
    print_table(
        [{**u, "insatser": [o["insats"] for o in u["offers"]],
          "routes_text": [label(r["route"], "route") + (f" {r['agreement_id']}" if r.get("agreement_id") else "")
                          + ("" if r["status"] == "active" else f" ({label(r['status'], 'agreement_status')})")
                          for r in u["routes"]],
          "status_text": label(u["status"], "unit_status")
          + (f" sedan {u['status_since']}" if u.get("status_since") else "")}
         for u in units],
        [("unit_id", "Unit"), ("name", "Name"), ("municipality", "Municipality"), ("status_text", "Status"),
         ("insatser", "Insatser", "insats"), ("routes_text", "Routes"), ("free_places", "Free")],
        title="Enheter")


@register.command()
@click.argument("text")
@click.option("--insats", help="Only units offering this insats.")
@click.option("--route", help=f"Only units with this route ({_codes(Route)}).")
@click.option("--status", help=f"Only units with this register status ({_codes(UnitStatus)}).")
@click.option("--municipality", help="Only units in this municipality.")
@click.option("--limit", type=boundary.WholeParam(), default=20, show_default=True, help="Only the best N matches.")
@output_options
def search(text: str, insats, route, status, municipality, limit: int, out: Output) -> None:
    """Find units by organisation number or unit_id (exact, first), else by name (fuzzy,
    Swedish-aware: 'ängen' finds 'Ängen' first; 'angen', typed without å ä ö, also finds
    'Ängen' ahead of names that only look alike)."""
    engine = app().engine()
    with open_session(engine) as session:
        hits = search_register(session, text, insats=insats, route=route, status=status,
                               municipality=municipality, limit=limit)
    rows = [h.as_dict() for h in hits]
    out.listing(rows, [("unit_id", "Unit"), ("unit_name", "Unit name"), ("municipality", "Municipality"),
                       ("status", "Status", "unit_status"), ("org_nr", "Org nr"), ("supplier_name", "Supplier"),
                       ("score", "Score"), ("match", "Match", "search_match")],
                empty=f"Ingen leverantör eller enhet matchar '{text}'.")


# --- writes ----------------------------------------------------------------------------------


def _entry_dict(h: History) -> dict:
    # The same field names as `audit log --json` (recorded_at, kind): one spelling per field.
    return {"id": h.id, "effective_on": h.effective_on, "recorded_at": h.at, "actor": h.actor,
            "kind": h.entity_kind, "entity_id": h.entity_id, "action": h.action, "org_nr": h.org_nr,
            "unit_id": h.unit_id, "changes": h.changes, "reason": h.reason, "note": h.note,
            "rule_id": h.rule_id, "rules_version": h.rules_version}


def _done(entry: History | None, json_output: bool, message: str, extra: dict | None = None) -> None:
    if wants_json(json_output):
        data = _entry_dict(entry) if entry is not None else {}
        print_json({**data, **(extra or {})})
    else:
        echo(message)


@register.command()
@click.argument("unit_id")
@click.argument("status")
@click.option("--reason", help=f"Removal reason code, required for 'removed' ({_codes(RemovalReason)}).")
@click.option("--note", type=boundary.NOTE, help="Why; for 'removed' the overall assessment (samlad bedömning), required.")
@click.option("--on", "on", help="Date the change takes effect (YYYY-MM-DD; default today).")
@by_option
@json_option
def status(unit_id: str, status: str, reason, note, on, actor, json_output: bool) -> None:
    effective_on = parse_date(on, "--on", past=True)
    engine = app().engine()
    with transaction(engine) as session:
        entry = service.change_unit_status(session, unit_id, status, actor=actor, reason=reason, note=note,
                                           effective_on=effective_on)
    old, new = entry.changes["status"]
    _done(entry, json_output, f"Enhet {entry.unit_id}: {label(old, 'unit_status')} → {label(new, 'unit_status')} "
                              f"från {entry.effective_on} (av {entry.actor}).")


status.help = status.__doc__ = (
    f"Change a unit's register status ({_codes(UnitStatus)}).\n\n"
    "recommendation_stop only for a unit used through direct procurement; removed needs --reason and "
    "--note and is final unless the unit is re-admitted (published or watch) after a new entry check "
    "(passed credit_rating, tax_registration and enforcement_debt checks on or after the removal)."
)


@register.command()
@click.argument("agreement_id")
@click.argument("status")
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
    engine = app().engine()
    with transaction(engine) as session:
        entry = service.change_agreement_status(session, agreement_id, status, actor=actor, note=note,
                                                effective_on=effective_on, org_nr=supplier)
    old, new = entry.changes["status"]
    whom = f" för leverantören {entry.org_nr}" if supplier else ""
    _done(entry, json_output,
          f"Avtal {entry.entity_id}{whom}: {label(old, 'agreement_status')} → {label(new, 'agreement_status')} "
          f"från {entry.effective_on} (av {entry.actor}).")


@register.command()
@click.argument("org_nr")
@click.argument("kind")
@click.option("--result", required=True, help=f"Result of the check ({_codes(CheckResult)}); "
              "'unavailable' (source unreachable) never counts as a pass.")
@click.option("--value", type=DECIMAL, help="A value, e.g. the credit rating (0–100); 12,5 or 12.5.")
@click.option("--on", "on", required=True, help="Date the check was performed (YYYY-MM-DD).")
@click.option("--source", type=boundary.NOTE, help="Where the result came from (e.g. kreditupplysning).")
@rules_option
@by_option
@json_option
def check(org_nr: str, kind: str, result: str, value, on, source, rules_dir, actor, json_output: bool) -> None:
    performed_on = parse_date(on, "--on", past=True)
    ruleset = _ruleset(rules_dir)  # a broken --rules directory is refused before anything is written
    engine = app().engine()
    with transaction(engine) as session:
        row = service.record_check(session, org_nr, kind, result, performed_on=performed_on, actor=actor,
                                   value=value, source=source)
        supplier = session.get(Supplier, row.supplier_id)
        entry = _last_entry(session, "check", f"{supplier.org_nr}:{row.kind}")
        applied = _apply_rules(session, {"kind": "check", "org_nr": supplier.org_nr, "check_id": row.id, "check": {
            "kind": row.kind, "result": row.result, "value": row.value, "performed_on": row.performed_on}}, actor,
            ruleset)
    _done(entry, json_output, f"Kontroll registrerad för {entry.org_nr}: {label(entry.changes['kind'], 'check_kind')} "
                              f"{label(entry.changes['result'], 'check_result').lower()} {entry.effective_on} "
                              f"(av {entry.actor})."
          + _applied_text(applied), {"rules": [a.as_dict() for a in applied]})


check.help = check.__doc__ = (
    f"Record a check (kontroll) of a supplier. KIND: {_codes(CheckKind)}.\n\n"
    "Checks accumulate; the latest of a kind is current."
)


def _last_entry(session, entity_kind: str, entity_id: str) -> History:
    """The history entry the command just wrote (in its own transaction)."""
    return session.scalars(select(History).where(History.entity_kind == entity_kind,
                                                 History.entity_id == entity_id)
                           .order_by(History.id.desc()).limit(1)).one()


@register.command()
@click.argument("unit_id")
@click.option("--dnr", required=True, help="IVO's diary number of the decision.")
@click.option("--status", "permit_status", required=True, help=f"Permit status ({_codes(PermitStatus)}).")
@click.option("--on", "on", required=True, help="Date of IVO's decision (YYYY-MM-DD).")
@click.option("--insats", help="The insats the permit covers (required for a new dnr).")
@click.option("--target-group", "target_groups", multiple=True,
              help="A target group the permit covers (repeat for several); replaces the permit's list.")
@rules_option
@by_option
@json_option
def permit(unit_id: str, dnr: str, permit_status: str, on, insats, target_groups, rules_dir, actor,
           json_output: bool) -> None:
    """Record an IVO permit decision for a unit: a new permit, or a change (e.g. revoked) of one."""
    decided_on = parse_date(on, "--on", past=True)
    ruleset = _ruleset(rules_dir)  # a broken --rules directory is refused before anything is written
    engine = app().engine()
    with transaction(engine) as session:
        row = service.record_permit(session, unit_id, dnr=dnr, status=permit_status, decided_on=decided_on,
                                    actor=actor, insats=insats, target_groups=list(target_groups) or None)
        entry = _last_entry(session, "permit", row.dnr)
        applied = _apply_rules(session, {"kind": "permit", "unit_id": entry.unit_id, "permit": {
            "dnr": row.dnr, "status": row.status, "insats": row.insats, "target_groups": row.target_groups,
            "decided_on": row.decided_on}}, actor, ruleset)
    old, new = entry.changes["status"]
    _done(entry, json_output, f"IVO-tillstånd {entry.entity_id} för enhet {entry.unit_id}: "
                              f"{label(old, 'permit_status') if old else '(nytt)'} → {label(new, 'permit_status')}, "
                              f"beslutat {entry.effective_on} (av {entry.actor})."
          + _applied_text(applied), {"rules": [a.as_dict() for a in applied]})


@register.command()
@click.argument("unit_id")
@click.option("--category", required=True, help=f"What it is about ({_codes(ComplaintCategory)}).")
@click.option("--on", "on", required=True, help="Date the complaint was received (YYYY-MM-DD).")
@click.option("--outcome", default="pending", show_default=True, help=f"Outcome ({_codes(ComplaintOutcome)}).")
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
    engine = app().engine()
    from ..casework.complaints import receive as record_complaint

    with transaction(engine) as session:
        row, applied = record_complaint(session, unit_id, received_on=received_on, category=category,
                                        actor=actor, outcome=outcome, note=note, received_by=received_by,
                                        rules_dir=rules_dir)
        entry = _last_entry(session, "complaint", str(row.id))
    _done(entry, json_output, f"Synpunkt {entry.entity_id} på enhet {entry.unit_id} registrerad: "
                              f"{label(entry.changes['category'], 'complaint_category')} "
                              f"({label(entry.changes['outcome'], 'complaint_outcome').lower()}), handläggs av "
                              f"{label(entry.changes['handler'], 'complaint_handler')} (av {entry.actor})."
          + _applied_text(applied), {"rules": [a.as_dict() for a in applied]})


@register.command()
@click.argument("unit_id")
@click.option("--on", "on", required=True, help="Date of the visit (YYYY-MM-DD).")
@click.option("--note", type=boundary.NOTE, help="What was seen (no names or personal identity numbers).")
@by_option
@json_option
def visit(unit_id: str, on, note, actor, json_output: bool) -> None:
    """Record a site visit (verksamhetsbesök) at a unit; `audit visits` reads it."""
    visited_on = parse_date(on, "--on", past=True)
    engine = app().engine()
    with transaction(engine) as session:
        row = service.record_visit(session, unit_id, visited_on=visited_on, actor=actor, note=note)
        entry = _last_entry(session, "visit", str(row.id))
    _done(entry, json_output, f"Besök hos enhet {entry.unit_id} {visited_on.isoformat()} registrerat (av {entry.actor}).")


# --- history ---------------------------------------------------------------------------------


def _hide_location(entry: dict, protected: set[str]) -> None:
    """A protected unit's coordinates stay out of printed history (--show-protected shows them)."""
    changes = entry.get("changes") or {}
    if "location" not in changes:
        return
    flagged = changes.get("protected_address")
    if entry.get("unit_id") in protected or (isinstance(flagged, list) and True in flagged):
        entry["changes"] = {**changes, "location": [None if v is None else "hidden (protected address)"
                                                    for v in changes["location"]]}


def _about_unit(session, unit: Unit):
    """Entries about a unit: its own, and those of the agreements its routes are on."""
    agreements = list(session.scalars(select(UnitRoute.agreement_id).distinct().where(
        UnitRoute.unit_id == unit.id, UnitRoute.agreement_id.is_not(None))))
    return or_(History.unit_id == unit.unit_id,
               (History.entity_kind == "unit") & (History.entity_id == unit.unit_id),
               (History.entity_kind == "agreement") & History.entity_id.in_(agreements))


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
    if limit is not None and limit < 1:
        raise CliError("--limit must be at least 1", 2)
    engine = app().engine()
    with open_session(engine) as session:
        stmt = select(History)
        if ident:
            what, obj = service.resolve_id(session, ident)
            if what == "supplier":
                stmt = stmt.where(History.org_nr == obj.org_nr)
            elif what == "unit":
                stmt = stmt.where(_about_unit(session, obj))
            else:
                stmt = stmt.where(History.entity_kind == "agreement", History.entity_id == obj)
        if unit_id:
            stmt = stmt.where(_about_unit(session, service.get_unit(session, unit_id)))
        if org_nr:
            stmt = stmt.where(History.org_nr == service.get_supplier(session, org_nr).org_nr)
        if actor:
            stmt = stmt.where(History.actor == nfc(actor))
        if kind:
            known = set(session.scalars(select(History.entity_kind).distinct())) | set(
                session.scalars(select(History.action).distinct()))
            if kind not in known:
                raise CliError(f"--kind: no history entry is of kind '{kind}' (present: "
                               f"{', '.join(sorted(known)) or 'none'})", 2)
            stmt = stmt.where(or_(History.entity_kind == kind, History.action == kind))
        if since_d:
            stmt = stmt.where(History.effective_on >= since_d)
        if until_d:
            stmt = stmt.where(History.effective_on <= until_d)
        stmt = stmt.order_by(History.effective_on.desc(), History.id.desc())
        if limit:
            stmt = stmt.limit(limit)
        entries = list(session.scalars(stmt))[::-1]
        protected = set() if show_protected else set(session.scalars(
            select(Unit.unit_id).where(Unit.protected_address.is_(True))))
    entries = [_entry_dict(h) for h in entries]
    if not show_protected:
        for e in entries:
            _hide_location(e, protected)
    for e in entries:
        e["change"] = _change_text(e["changes"] or {}, e["action"], e["kind"], people=not out.machine)
        e["entity"] = f"{label(e['kind'], 'entity_kind')} {e['entity_id']}"
    # A table shows the latest entries (and says how many there are); --all, --csv, --json all.
    shown = entries if out.all or out.machine else entries[-TABLE_ROWS:]
    out.emit(entries, [Section(
        "history", None if len(shown) == len(entries) else
        f"{fmt_number(len(entries))} ändringar; visar de senaste {len(shown)} (--all visar alla, --csv eller "
        "--json ger alla, --limit N de senaste N)", shown,
        [("effective_on", "Effective"), ("recorded_at", "Recorded"), ("actor", "Actor"), ("entity", "Entity"),
         ("action", "Action", "history_action"), ("change", "Change"), ("reason", "Reason", "removal_reason"),
         ("rule_id", "Rule"),
         ("note", "Note")],
        ["id", "effective_on", "recorded_at", "actor", "kind", "entity_id", "action", "change", "reason",
         "rule_id", "note", "unit_id", "org_nr"],
        empty="Inga ändringar matchar.")])


# --- register-status rules and the proposals worklist (owned by the rules engine) ----------------


def _ruleset(rules_dir: Path | None):
    """The rules of `--rules DIR`, or None for the current ones."""
    from ..rules import load_ruleset

    return load_ruleset(rules_dir) if rules_dir else None


def _apply_rules(session, event: dict, actor, ruleset=None) -> list:
    """Run the register_status rules (of `ruleset`, else the current rules) for the event just
    recorded, in the same transaction."""
    from ..rules.register_status import apply_register_event

    return apply_register_event(session, event, actor=actor, ruleset=ruleset)


_APPLIED_TEXT = {
    "unit_status": "enhet {unit_id}: {status_from} → {status_to}",
    "agreement_status": "avtal {agreement_id}: {status_from} → {status_to}",
    "proposal": "förslag {proposal_id} ({status_to}) skapat",
    "proposal_exists": "förslag {proposal_id} är redan öppet",
    "unchanged": "{unit_id} {agreement_id} är redan {status_to}",
    "made_concurrently": "{unit_id} {agreement_id} fick status {status_from} genom en samtidig ändring",
    "superseded": "{unit_id} {agreement_id} har status {status_from} efter en samtidig ändring; {status_to} gjordes inte",
    "unevaluable": "kunde inte bedömas",
    "flag": "flaggad",
}
# The label kind of an applied rule's statuses, by what it did.
_APPLIED_KIND = {"unit_status": "unit_status", "agreement_status": "agreement_status", "proposal": "proposal_kind",
                 "proposal_exists": "proposal_kind"}


def _applied_text(applied: list) -> str:
    """What the rules did, one line each (empty when no rule fired), in Swedish."""
    lines = []
    for a in applied:
        d = {k: (v if v is not None else "") for k, v in a.as_dict().items()}
        kind = _APPLIED_KIND.get(a.action) or ("agreement_status" if a.agreement_id else "unit_status")
        for key in ("status_from", "status_to"):
            if d[key]:
                d[key] = label(d[key], kind).lower() if a.action == "unchanged" else label(d[key], kind)
        what = _APPLIED_TEXT.get(a.action, a.action).format(**d)
        lines.append(f"\n  regel {a.rule}: {' '.join(what.split())}. {a.message}")
    return "".join(lines)


def _proposal_dict(p) -> dict:
    return {"id": p.id, "kind": p.kind, "status": p.status, "org_nr": p.org_nr, "unit_id": p.unit_id,
            "rule_id": p.rule_id, "rules_version": p.rules_version, "message": p.message, "details": p.details,
            "created_on": p.created_on, "decided_by": p.decided_by,
            "decided_at": p.decided_at.isoformat() if p.decided_at else None, "decision_note": p.decision_note}


@register.group(cls=PlaceringGroup, invoke_without_command=True)
@click.option("--status", "proposal_status", type=click.Choice(["open", "accepted", "dismissed"]),
              help="Only proposals with this status.")
@output_options
@click.pass_context
def proposals(ctx: click.Context, proposal_status: str | None, out: Output) -> None:
    """The maintainers' worklist raised by register-status rules (deepened control, re-publish, …).

    Without a subcommand: list the proposals. `accept ID` / `dismiss ID` decide one, with a note."""
    if ctx.invoked_subcommand is not None:
        return
    from ..rules.register_status import list_proposals

    engine = app().engine()
    with open_session(engine) as session:
        rows = [_proposal_dict(p) for p in list_proposals(session, status=proposal_status)]
    out.listing(rows, [("id", "ID"), ("kind", "Kind", "proposal_kind"), ("status", "Status", "proposal_status"),
                       ("unit_id", "Unit"), ("org_nr", "Org nr"), ("created_on", "Created"), ("message", "Why"),
                       ("rule_id", "Rule"), ("decided_by", "Decided by"), ("decision_note", "Note")],
                csv_columns=["id", "kind", "status", "org_nr", "unit_id", "created_on", "rule_id", "rules_version",
                             "message", "decided_by", "decided_at", "decision_note"],
                empty="Inga förslag.")


def _decide(proposal_id: int, accept: bool, note: str | None, actor, json_output: bool) -> None:
    from ..rules.register_status import decide_proposal

    engine = app().engine()
    with transaction(engine) as session:
        p = decide_proposal(session, proposal_id, accept=accept, actor=actor, note=note)
        data = _proposal_dict(p)
    if wants_json(json_output):
        print_json(data)
        return
    echo(f"Förslag {data['id']} ({label(data['kind'], 'proposal_kind')} för {data['unit_id'] or data['org_nr']}): "
         f"{label(data['status'], 'proposal_status').lower()} av {data['decided_by']}.")


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
@json_option
def entry_list(on, rules_path, json_output: bool) -> None:
    """Units waiting for their entry check, with each required check: passed, or why not."""
    from ..register.entry import pending_entries
    from ..rules import load_ruleset

    on_d = parse_date(on, "--on")
    engine = app().engine()
    with open_session(engine) as session:
        rows = pending_entries(session, on=on_d, ruleset=load_ruleset(rules_path))
    if wants_json(json_output):
        print_json(rows)
        return
    print_table([{"unit": r["unit_id"], "supplier": f"{r['supplier']} ({r['org_nr']})",
                  "routes": ", ".join(label(x, "route") for x in r["routes"]),
                  "since": r["pending_since"], "ready": "ja" if not r["missing"] else "nej",
                  "missing": "; ".join(f"{label(c['kind'], 'check_kind')}: {swedish(c['why'])}" for c in r["checks"]
                                       if not c["passed"]),
                  "last": (f"{label(r['last_decision']['action'], 'history_action')} {r['last_decision']['on']}: "
                           f"{r['last_decision']['note']}" if r["last_decision"] else "")} for r in rows],
                [("unit", "Unit"), ("supplier", "Supplier"), ("routes", "Routes"), ("since", "Pending since"),
                 ("ready", "Checks passed"), ("missing", "Not passed"), ("last", "Last decision")],
                empty="Ingen enhet väntar på inträdeskontroll.")


def _entry_decide(ident: str, approve: bool, text: str, on, rules_path, actor, json_output: bool) -> None:
    from ..register.entry import approve_entry, reject_entry
    from ..rules import load_ruleset

    on_d = parse_date(on, "--on")
    ruleset = load_ruleset(rules_path)
    engine = app().engine()
    with transaction(engine) as session:
        fn = approve_entry if approve else reject_entry
        kw = {"note": text} if approve else {"reason": text}
        entries = [_entry_dict(e) for e in fn(session, ident, actor=actor, on=on_d, ruleset=ruleset, **kw)]
    if wants_json(json_output):
        print_json(entries)
        return
    for e in entries:
        echo(f"Enhet {e['unit_id']}: inträdet {'godkänt, enheten är publicerad' if approve else 'avslaget'} "
             f"{e['effective_on']} (av {e['actor']}).")


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
