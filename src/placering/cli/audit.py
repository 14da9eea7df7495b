"""`placering audit …`: read-only answers for auditors, from the register's history."""

from __future__ import annotations

from datetime import date
from typing import Any, Sequence

import click

from .. import audit as lib
from ..audit import log as lib_log
from ..storage import open_session
from . import cli
from .common import PlaceringGroup, app, csv_option, json_option, parse_date, print_csv, print_json, print_table, wants_json


@cli.group(cls=PlaceringGroup)
def audit() -> None:
    """Audits: paused suppliers, affected placements, yearly figures, the change log."""


def _session():
    return open_session(app().engine())


def _as_of(value: str | None) -> date:
    return parse_date(value, "--as-of") or date.today()


def _emit(
    data: dict[str, Any],
    json_output: bool,
    csv_output: bool,
    sections: Sequence[tuple[str, str, list[dict[str, Any]], Sequence[tuple[str, str]]]],
) -> None:
    """JSON (the whole report), CSV (every section's rows, with a `section` column when there
    are several), or tables for people. sections: (key, title, rows, columns)."""
    if json_output and csv_output:
        raise click.UsageError("give --json or --csv, not both")
    if wants_json(json_output):
        print_json(data)
        return
    if csv_output:
        many = len(sections) > 1
        columns: list[str] = ["section"] if many else []
        rows: list[dict[str, Any]] = []
        for key, _title, section_rows, cols in sections:
            for k, _ in cols:
                if k not in columns:
                    columns.append(k)
            rows += [{**r, "section": key} for r in section_rows]
        print_csv(rows, columns)
        return
    for i, (_key, title, section_rows, cols) in enumerate(sections):
        if i:
            click.echo("")
        print_table(section_rows, cols, title=title)


AS_OF = click.option("--as-of", "as_of", metavar="DATE", help="The date to answer for (YYYY-MM-DD); default today.")
YEAR = click.option("--year", "year", type=int, required=True, help="The calendar (financial) year, e.g. 2024.")


@audit.command("paused")
@AS_OF
@click.option("--insats", help="Only units/agreements of this insats (code, e.g. hvb_barn_unga).")
@click.option("--route", help="Only units with this route (egen_regi, ramavtal, iop, direktupphandling).")
@click.option("--municipality", help="Only units in this municipality.")
@click.option("--status", help="Only this status (unpublished, recommendation_stop, removed, watch, order_stop, terminated).")
@json_option
@csv_option
def paused_cmd(as_of, insats, route, municipality, status, json_output, csv_output) -> None:
    """Every unit and agreement that may not be recommended or ordered from on a date
    (unpublished, recommendation stop, removed; agreements on order stop or terminated), and
    separately the units on watch: since when, why, who decided and which rule.

    The answer is rebuilt from the history alone, so a past date gives the register as it
    was then, whatever has changed since."""
    day = _as_of(as_of)
    with _session() as s:
        report = lib.paused(s, day, insats=insats, route=route, municipality=municipality, status=status)
    cols = [("kind", "Typ"), ("id", "Id"), ("name", "Namn"), ("org_nr", "Org.nr"), ("status_label", "Status"),
            ("since", "Sedan"), ("reason", "Orsak"), ("actor", "Beslutad av"), ("rule_id", "Regel"),
            ("note", "Anteckning"), ("insatser", "Insatser"), ("municipality", "Kommun")]
    csv_cols = [("kind", ""), ("id", ""), ("name", ""), ("org_nr", ""), ("supplier", ""), ("status", ""),
                ("since", ""), ("reason", ""), ("actor", ""), ("rule_id", ""), ("note", ""), ("insatser", ""),
                ("municipality", ""), ("units", "")]
    paused_rows = [r.to_dict() for r in report.paused]
    watch_rows = [r.to_dict() for r in report.watch]
    if csv_output and not wants_json(json_output):
        _emit({}, False, True, [("paused", "", paused_rows, csv_cols), ("watch", "", watch_rows, csv_cols)])
        return
    _emit(report.to_dict(), json_output, csv_output, [
        ("paused", f"Får inte rekommenderas eller beställas från per {day.isoformat()} ({len(paused_rows)})",
         paused_rows, cols),
        ("watch", f"Bevakning per {day.isoformat()} ({len(watch_rows)})", watch_rows, cols),
    ])


@audit.command("affected-placements")
@AS_OF
@json_option
@csv_option
def affected_cmd(as_of, json_output, csv_output) -> None:
    """Active placements (started on or before the date; no end_on, or one after it) at a unit
    or agreement that is paused or removed on that date, or whose IVO permit for the insats is
    no longer active (revoked, banned, expired), or missing where the dated parameter
    permit_required_insatser requires one for a private unit: the people to consider for
    re-placement (omplacering). Children (under 18) first, then the longest-standing cause.
    Statuses and permits on the date come from history alone."""
    day = _as_of(as_of)
    with _session() as s:
        report = lib.affected_placements(s, day)
    rows = [p.to_dict() for p in report.placements]
    for r in rows:
        r["child_label"] = "barn" if r["child"] else ""
    cols = [("placement_id", "Placering"), ("request_id", "Förfrågan"), ("child_label", "Barn"),
            ("person_age", "Ålder"), ("unit_id", "Enhet"), ("unit_name", "Namn"), ("org_nr", "Org.nr"),
            ("insats", "Insats"), ("route", "Regiform"), ("start_on", "Start"), ("since", "Sedan"),
            ("cause", "Orsak"), ("requester", "Förvaltning")]
    csv_cols = [(k, "") for k in ("placement_id", "request_id", "child", "person_age", "unit_id", "unit_name",
                                   "org_nr", "insats", "route", "agreement_id", "start_on", "since", "cause",
                                   "municipality", "requester")]
    _emit(report.to_dict(), json_output, csv_output, [
        ("placements", f"Placeringar att ompröva per {day.isoformat()} ({len(rows)}, varav "
                       f"{sum(1 for r in rows if r['child'])} barn)", rows, csv_cols if csv_output else cols)])


@audit.command("removals")
@YEAR
@json_option
@csv_option
def removals_cmd(year, json_output, csv_output) -> None:
    """Removals from the register in a year (status changed to removed, effective that year),
    by removal reason (rows) and insats (columns), with totals: the model is the 2022 table of
    Nordost's annual report (105 removals). A unit offering several insatser counts in each
    of their columns but once in the total."""
    with _session() as s:
        report = lib.removals(s, year)
    cols = [("reason_label", "Orsak")] + [(c, c) for c in report.insatser] + [("total", "Antal")]
    if csv_output:
        cols = [("reason", "")] + [(c, "") for c in report.insatser] + [("total", "")]
    _emit(report.to_dict(), json_output, csv_output,
          [("removals", f"Borttagna ur registret {year} ({report.total})", report.rows, cols)])


@audit.command("requests")
@YEAR
@json_option
@csv_option
def requests_cmd(year, json_output, csv_output) -> None:
    """Placement requests in a year against the year before, per area, insats and
    sub-category, with difference and percentage (the model is the 2024 table of Spink's
    annual report), and per requesting administration."""
    with _session() as s:
        report = lib.requests(s, year)
    pct = lambda r: "" if r["percent"] is None else f"{r['percent']}%"  # noqa: E731
    cats = [{**r, "pct": pct(r), "area_label": r["area_label"] if r["level"] == "insats" else ""}
            for r in report.categories]
    reqs = [{**r, "pct": pct(r)} for r in report.requesters]
    if csv_output:
        cat_cols = [(k, "") for k in ("level", "area", "insats", "subcategory", "previous", "current",
                                       "difference", "percent")]
        req_cols = [(k, "") for k in ("municipality", "requester", "previous", "current", "difference", "percent")]
    else:
        cat_cols = [("area_label", "Kategoriområde"), ("label", "Delkategori"), ("previous", str(year - 1)),
                    ("current", str(year)), ("difference", "Diff"), ("pct", "Diff %")]
        req_cols = [("municipality", "Kommun"), ("requester", "Förvaltning"), ("previous", str(year - 1)),
                    ("current", str(year)), ("difference", "Diff"), ("pct", "Diff %")]
    _emit(report.to_dict(), json_output, csv_output, [
        ("categories", f"Placeringsförfrågningar per kategori {year} jmf {year - 1}", cats, cat_cols),
        ("requesters", f"Placeringsförfrågningar per förvaltning {year} jmf {year - 1}", reqs, req_cols),
    ])


@audit.command("checks-due")
@AS_OF
@click.option("--kind", help="Only this check kind (credit_rating, tax_registration, …).")
@click.option("--supplier", help="Only this supplier (organisation number).")
@json_option
@csv_option
def checks_due_cmd(as_of, kind, supplier, json_output, csv_output) -> None:
    """Supplier checks that are past their validity, were never made, or whose latest result
    was not a pass (an unavailable source is not a pass), per supplier and check kind; and
    framework agreements due for INK's systematic follow-up 12 and 30 months after their start,
    with the due date. Validity per check kind and the follow-up months are dated parameters
    in rules/parameters/. The register does not record completed follow-ups, so a passed due
    date stays listed for the lookback period."""
    day = _as_of(as_of)
    with _session() as s:
        report = lib.checks_due(s, day, kind=kind, supplier=supplier)
    check_cols = [("org_nr", "Org.nr"), ("supplier", "Leverantör"), ("kind", "Kontroll"), ("state", "Läge"),
                  ("last_performed_on", "Senast"), ("last_result", "Resultat"), ("valid_until", "Giltig t.o.m."),
                  ("why", "Varför")]
    fu_cols = [("agreement_id", "Ramavtal"), ("supplier", "Leverantör"), ("insatser", "Insatser"),
               ("valid_from", "Start"), ("followup", "Uppföljning"), ("due_on", "Förfaller"), ("state", "Läge"),
               ("agreement_status", "Avtalsstatus")]
    _emit(report.to_dict(), json_output, csv_output, [
        ("checks", f"Kontroller att göra per {day.isoformat()} ({len(report.checks)})", report.checks, check_cols),
        ("agreement_followups", f"Avtalsuppföljningar (12 och 30 månader) kring {day.isoformat()}",
         report.followups, fu_cols),
    ])


@audit.command("direct-procurement")
@YEAR
@json_option
@csv_option
def direct_cmd(year, json_output, csv_output) -> None:
    """Direct procurement in a year: placements started in the year per insats and route with
    the share outside framework agreements (direktupphandling); insatser where direct
    procurement recurs (at least the dated parameter audit_direct_procurement_signal_count
    placements, or a share of at least audit_direct_procurement_signal_share: a signal to
    procure); and each supplier's direct purchases over the financial year (daily price × days
    within the year, start and end day included, as the review queue counts them; a placement
    without an end runs to the year's end) against the dated direct-procurement threshold."""
    with _session() as s:
        report = lib.direct_procurement(s, year)
    pct = lambda v: "" if v is None else f"{v * 100:.0f}%"  # noqa: E731
    per = [{**r, "share": pct(r["direct_share"])} for r in report.per_insats]
    sup = [{**r, "of_threshold": pct(r["share_of_threshold"]), "over": "ÖVER" if r["over_threshold"] else ""}
           for r in report.suppliers]
    per_cols = [("label", "Insats"), ("total", "Placeringar"), ("egen_regi", "Egen regi"), ("ramavtal", "Ramavtal"),
                ("iop", "IOP"), ("direktupphandling", "Direkt"), ("share", "Andel direkt")]
    sig_cols = [("label", "Insats"), ("direct", "Direkt"), ("why", "Varför")]
    threshold = "no threshold parameter" if report.threshold is None else f"gräns {report.threshold:,.0f} kr"
    sup_cols = [("org_nr", "Org.nr"), ("supplier", "Leverantör"), ("insatser", "Insatser"),
                ("placements", "Placeringar"), ("days", "Dygn"), ("amount", "Belopp kr"),
                ("of_threshold", "Av gränsen"), ("over", ""), ("unpriced_placements", "Utan pris")]
    if csv_output:
        per_cols = [(k, "") for k in ("insats", "total", "egen_regi", "ramavtal", "iop", "direktupphandling",
                                       "direct_share")]
        sig_cols = [(k, "") for k in ("insats", "direct", "direct_share", "why")]
        sup_cols = [(k, "") for k in ("org_nr", "supplier", "insatser", "placements", "days", "amount",
                                       "threshold", "share_of_threshold", "over_threshold", "unpriced_placements")]
    _emit(report.to_dict(), json_output, csv_output, [
        ("per_insats", f"Placeringar {year} per insats och regiform", per, per_cols),
        ("procurement_signals", f"Återkommande direktupphandling {year} (signal att upphandla)", report.signals, sig_cols),
        ("suppliers", f"Direktköp per leverantör {year} ({threshold})", sup, sup_cols),
    ])


@audit.command("adherence")
@YEAR
@json_option
@csv_option
def adherence_cmd(year, json_output, csv_output) -> None:
    """Share of placements started in a year that went to a recommended unit (Nordost 2022:
    91 %), per insats, and the recorded reasons for the others."""
    with _session() as s:
        report = lib.adherence(s, year)
    pct = lambda v: "" if v is None else f"{v * 100:.0f}%"  # noqa: E731
    head = [{"insats": "total", "label": "Totalt", "placements": report.placements,
             "recommended": report.recommended, "share": report.share}]
    per = [{**r, "pct": pct(r["share"])} for r in report.per_insats + head]
    per_cols = [("label", "Insats"), ("placements", "Placeringar"), ("recommended", "Rekommenderad"),
                ("pct", "Andel")]
    reason_cols = [("reason", "Skäl"), ("placements", "Placeringar")]
    other_cols = [("placement_id", "Placering"), ("request_id", "Förfrågan"), ("unit_id", "Enhet"),
                  ("insats", "Insats"), ("route", "Regiform"), ("start_on", "Start"), ("reason", "Skäl"),
                  ("by", "Av")]
    if csv_output:
        per_cols = [(k, "") for k in ("insats", "placements", "recommended", "share")]
    _emit(report.to_dict(), json_output, csv_output, [
        ("per_insats", f"Placeringar hos rekommenderad utförare {year}: {pct(report.share) or '–'}", per, per_cols),
        ("reasons", "Skäl när annan utförare valdes", report.reasons, reason_cols),
        ("not_recommended", "Placeringar utanför rekommendationerna", report.others, other_cols),
    ])


@audit.command("visits")
@AS_OF
@click.option("--level", type=int, help="Only this priority level (1 high … 4 not this year).")
@json_option
@csv_option
def visits_cmd(as_of, level, json_output, csv_output) -> None:
    """Units in the visit priority order of Spink (1 high: new or unknown units in insatser in
    high demand (requests rising) or shortage (decisions without an eligible unit), or units
    with signals such as watch status, complaints or failed checks; 2 heavily
    used; 3 rarely used; 4 unused where supply is sufficient), each with why it is there.

    Thresholds are dated parameters (rules/parameters/audit.yaml). Visits are recorded with
    `placering register visit`; a unit visited recently moves to level 3 unless it shows
    signals of shortcomings."""
    day = _as_of(as_of)
    with _session() as s:
        report = lib.visits(s, day, level=level)
    cols = [("level", "Nivå"), ("priority", "Prioritet"), ("unit_id", "Enhet"), ("name", "Namn"),
            ("municipality", "Kommun"), ("insatser", "Insatser"), ("placements", "Placeringar"), ("last_visited", "Senaste besök"), ("why", "Varför")]
    if csv_output:
        cols = [(k, "") for k in ("level", "priority", "unit_id", "name", "org_nr", "municipality", "insatser",
                                   "status", "placements", "in_register_since", "last_visited", "why")]
    _emit(report.to_dict(), json_output, csv_output,
          [("units", f"Besöksprioritering per {day.isoformat()}", report.units, cols)])


@audit.command("log")
@click.option("--actor", help="Only changes made by this actor.")
@click.option("--unit", help="Only changes concerning this unit (unit_id).")
@click.option("--supplier", help="Only changes concerning this supplier (organisation number).")
@click.option("--kind", help="Only this kind of entity (unit, supplier, agreement, permit, check, complaint, …).")
@click.option("--action", help="Only this action (status, agreement_status, permit, created, …).")
@click.option("--since", metavar="DATE", help="Changes effective on or after this date.")
@click.option("--until", metavar="DATE", help="Changes effective on or before this date.")
@click.option("--summary", is_flag=True, help="Count changes per actor, kind and action instead of listing them.")
@click.option("--limit", type=int, help=f"Show at most this many changes (the total is still reported); "
              f"the table shows {lib_log.TABLE_LIMIT} unless given.")
@click.option("--show-protected", is_flag=True, help="Show the location of units with a protected address.")
@json_option
@csv_option
def log_cmd(actor, unit, supplier, kind, action, since, until, summary, limit, show_protected, json_output,
            csv_output) -> None:
    """The change history, filtered to what you are reviewing: one line per change with what
    changed, who, why and which rule; or --summary for counts per actor, kind and action.

    --unit includes the entries of the framework agreements the unit's routes are on. The
    location of a unit with a protected address is hidden unless --show-protected."""
    since_d = parse_date(since, "--since")
    until_d = parse_date(until, "--until")
    if limit is None and not summary and not (wants_json(json_output) or csv_output):
        limit = lib_log.TABLE_LIMIT  # a table is for a person: narrow it with filters or --summary
    with _session() as s:
        report = lib.audit_log(s, actor=actor, unit=unit, supplier=supplier, kind=kind, action=action,
                               since=since_d, until=until_d, summary=summary, limit=limit,
                               show_protected=show_protected)
    if summary:
        cols = [("actor", "Av"), ("kind", "Typ"), ("action", "Händelse"), ("changes", "Ändringar"),
                ("entities", "Poster"), ("first", "Första"), ("last", "Sista")]
        _emit(report.to_dict(), json_output, csv_output,
              [("summary", f"Ändringar: {report.total}", report.summary or [], cols)])
        return
    cols = [("effective_on", "Datum"), ("actor", "Av"), ("kind", "Typ"), ("entity_id", "Id"),
            ("action", "Händelse"), ("what", "Vad ändrades"), ("reason", "Orsak"), ("rule_id", "Regel"),
            ("note", "Anteckning")]
    if csv_output:
        cols = [(k, "") for k in ("id", "effective_on", "recorded_at", "actor", "kind", "entity_id", "action",
                                   "what", "reason", "rule_id", "note", "unit_id", "org_nr")]
    shown = len(report.entries)
    title = f"Ändringar: {report.total}" + (
        f" (visar de första {shown}: smalna av med --actor/--unit/--supplier/--kind/--since/--until, "
        f"--summary, eller ange --limit)" if shown < report.total else "")
    _emit(report.to_dict(), json_output, csv_output, [("entries", title, report.entries, cols)])


