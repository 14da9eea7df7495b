"""`placering audit …`: read-only answers for auditors, from the register's history."""

from __future__ import annotations

from datetime import date

import click

from .. import boundary
from . import cli
from ..display import fmt_money, fmt_percent, today
from ..i18n import text
from .common import TABLE_ROWS, Output, PlaceringGroup, Section, call, output_options, parse_date
from .options import AS_OF, SINCE, UNTIL, YEAR, as_of_day as _as_of, year_or_this as _year

# The case-work audits live with their commands in cli/casework.py: imported when one of them
# runs (or `audit --help` lists them), so the other audits stay light (and run on a server
# without the database layer).
CASEWORK_AUDITS = ("placement-agreements", "controls", "surveys", "not-executed", "direct-purchases",
                   "protected-reads", "complaints")


class AuditGroup(PlaceringGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(CASEWORK_AUDITS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in CASEWORK_AUDITS and name not in self.commands:
            from .casework import AUDIT_COMMANDS

            for key, command in AUDIT_COMMANDS.items():
                self.add_command(command, key)
        return super().get_command(ctx, name)


@cli.group(cls=AuditGroup)
def audit() -> None:
    """Audits: paused suppliers, affected placements, yearly figures, the change log."""


def _as_codes(*keys: str) -> list[str]:
    return list(keys)


def _in_words(swedish: str | None, code: str | None, kind: str) -> str | None:
    """A name the library gives in Swedish (an insats, a sub-category, an area), in the people's
    language: the library's own in Swedish, the code's label otherwise."""
    from ..i18n import language
    from ..labels import label

    if language() == "sv" or code is None:
        return swedish
    if code in ("total", "other"):
        return text("cli.out.audit.total") if code == "total" else label("other", "area")
    return label(code, kind)


def _category_said(r: dict) -> dict:
    """A row of `audit requests` with its names in the people's language."""
    from ..i18n import language

    if language() == "sv":
        return r
    area = _in_words(r.get("area_label"), r.get("area"), "area")
    said = {"insats": lambda: _in_words(r["label"], r["insats"], "insats"),
            "subcategory": lambda: "  " + _in_words(r["label"].strip(), r["subcategory"], "subcategory"),
            "area": lambda: text("cli.out.audit.area_sum", area=area),
            "total": lambda: text("cli.out.audit.grand_total")}.get(r["level"], lambda: r["label"])()
    return {**r, "area_label": area, "label": said}


@audit.command("paused")
@AS_OF
@click.option("--insats", help="Only units/agreements of this insats (code, e.g. hvb_barn_unga).")
@click.option("--route", help="Only units with this route (egen_regi, ramavtal, iop, direktupphandling).")
@click.option("--municipality", help="Only units in this municipality.")
@click.option("--status", help="Only this status (unpublished, recommendation_stop, removed, watch, order_stop, terminated).")
@output_options
def paused_cmd(as_of, insats, route, municipality, status, out: Output) -> None:
    """Every unit and agreement that may not be recommended or ordered from on a date
    (unpublished, recommendation stop, removed; agreements on order stop or terminated), and
    separately the units on watch: since when, why, who decided and which rule.

    The answer is rebuilt from the history alone, so a past date gives the register as it
    was then, whatever has changed since."""
    day = _as_of(as_of)
    filters = {"insats": insats, "route": route, "municipality": municipality, "status": status}
    report = call("audit.reads:paused", as_of=day, **filters, http=("GET", "/audit/paused", {"as_of": day, **filters}))
    # Most telling first: a narrow terminal leaves out the columns at the end (and says which).
    cols = [("id", "Id"), ("name", "Namn"), ("status_label", "Status"), ("since", "Sedan"),
            ("reason", "Orsak", "removal_reason"), ("actor", "Beslutad av"), ("org_nr", "Org.nr"),
            ("insatser", "Insatser", "insats"), ("rule_id", "Regel"), ("note", "Anteckning"),
            ("municipality", "Kommun"), ("kind", "Typ", "entity_kind")]
    csv_cols = _as_codes("kind", "id", "name", "org_nr", "supplier", "status", "since", "reason", "actor",
                         "rule_id", "note", "insatser", "municipality", "units")
    paused_rows = report["paused"]
    watch_rows = report["watch"]
    out.emit(report, [
        Section("paused", text("cli.out.audit.paused_title", on=day.isoformat(), count=len(paused_rows)),
                paused_rows, cols, csv_cols),
        Section("watch", text("cli.out.audit.watch_title", on=day.isoformat(), count=len(watch_rows)), watch_rows, cols,
                csv_cols),
    ])


@audit.command("affected-placements")
@AS_OF
@output_options
def affected_cmd(as_of, out: Output) -> None:
    """Agreed placements (started, or chosen and starting later; no end_on, or one after it) at a unit
    or agreement that is paused or removed on that date, or whose IVO permit for the insats is
    no longer active (revoked, banned, expired), or missing where the dated parameter
    permit_required_insatser requires one for a private unit: the people to consider for
    re-placement (omplacering). Children (under 18) first, then the longest-standing cause.
    Statuses and permits on the date come from history alone."""
    day = _as_of(as_of)
    report = call("audit.reads:affected_placements", as_of=day,
                  http=("GET", "/audit/affected-placements", {"as_of": day}))
    rows = [dict(p) for p in report["placements"]]
    for r in rows:
        r["child_label"] = text("cli.out.audit.child") if r["child"] else ""
        r["started_label"] = text("cli.out.audit.started") if r["started"] else text("cli.out.audit.not_moved_in")
    cols = [("placement_id", "Placering"), ("request_id", "Förfrågan"), ("child_label", "Barn"),
            ("person_age", "Ålder"), ("unit_id", "Enhet"), ("unit_name", "Namn"), ("org_nr", "Org.nr"),
            ("insats", "Insats", "insats"), ("route", "Regiform", "route"), ("start_on", "Start"),
            ("started_label", "Påbörjad"), ("since", "Sedan"), ("cause_said", "Orsak"), ("requester", "Förvaltning")]
    csv_cols = _as_codes("placement_id", "request_id", "child", "person_age", "unit_id", "unit_name", "org_nr",
                         "insats", "route", "agreement_id", "start_on", "started", "status", "since", "cause",
                         "municipality", "requester")
    out.emit(report, [
        Section("placements", text("cli.out.audit.affected_title", on=day.isoformat(), count=len(rows),
                                   children=sum(1 for r in rows if r["child"])), rows, cols, csv_cols)])


@audit.command("entries")
@click.option("--since", help="First day (YYYY-MM-DD).")
@click.option("--until", help="Last day (YYYY-MM-DD).")
@click.option("--period", default="half", show_default=True, help="month, quarter, half or year.")
@output_options
def entries_cmd(since, until, period, out: Output) -> None:
    """Entry checks decided per period: units and distinct suppliers approved and rejected
    ('11 av 20 utförare godkändes inte i kontrollerna', Spink's annual report 2024). From history
    (register entry approve / reject)."""
    filters = {"since": parse_date(since, "--since"), "until": parse_date(until, "--until"), "period": period}
    report = call("audit.reads:entries", **filters, http=("GET", "/audit/entries", filters))
    cols = [("period", "Period"), ("suppliers_checked", "Leverantörer kontrollerade"),
            ("suppliers_rejected", "Ej godkända"), ("suppliers_approved", "Godkända"),
            ("units_rejected", "Enheter ej godkända"), ("units_approved", "Enheter godkända")]
    csv_cols = _as_codes("period", "suppliers_checked", "suppliers_rejected", "suppliers_approved",
                         "units_rejected", "units_approved", "rejected_share")
    out.emit(report, [Section("periods", text("cli.out.audit.entries_title"), report["periods"], cols, csv_cols)])


@audit.command("removals")
@YEAR
@output_options
def removals_cmd(year, out: Output) -> None:
    """Removals from the register in a year (status changed to removed, effective that year),
    by removal reason (rows) and insats (columns), with totals: the model is the 2022 table of
    Nordost's annual report (105 removals). A unit offering several insatser counts in each
    of their columns but once in the total."""
    year = _year(year)
    report = call("audit.reads:removals", year=year, http=("GET", "/audit/removals", {"year": year}))
    from ..labels import label

    # the insatser by their labels (the code stays in --csv / --json)
    cols = [("reason_label", "Orsak")] + [(c, label(c, "insats")) for c in report["insatser"]] + [("total", "Antal")]
    csv_cols = ["reason", *report["insatser"], "total"]
    out.emit(report, [Section("removals", text("cli.out.audit.removals_title", year=year, count=report["total"]), report["table"], cols,
                              csv_cols)])


@audit.command("requests")
@YEAR
@output_options
def requests_cmd(year, out: Output) -> None:
    """Placement requests in a year against the year before, per area, insats and
    sub-category, with difference and percentage (the model is the 2024 table of Spink's
    annual report), and per requesting administration."""
    year = _year(year)
    report = call("audit.reads_yearly:requests", year=year, http=("GET", "/audit/requests", {"year": year}))
    pct = lambda r: "" if r["percent"] is None else fmt_percent(r["percent"] / 100, 1 if r["percent"] % 1 else 0)  # noqa: E731
    cats = [{**r, "pct": pct(r), "area_label": r["area_label"] if r["level"] == "insats" else ""}
            for r in map(_category_said, report["categories"])]
    reqs = [{**r, "pct": pct(r)} for r in report["requesters"]]
    cat_csv = _as_codes("level", "area", "insats", "subcategory", "previous", "current", "difference", "percent")
    req_csv = _as_codes("municipality", "requester", "previous", "current", "difference", "percent")
    cat_cols = [("area_label", "Kategoriområde"), ("label", "Delkategori"), ("previous", str(year - 1)),
                ("current", str(year)), ("difference", "Diff"), ("pct", "Diff %")]
    req_cols = [("municipality", "Kommun"), ("requester", "Förvaltning"), ("previous", str(year - 1)),
                ("current", str(year)), ("difference", "Diff"), ("pct", "Diff %")]
    out.emit(report, [
        Section("categories", text("cli.out.audit.requests_per_category", year=year, previous=year - 1), cats, cat_cols,
                cat_csv),
        Section("requesters", text("cli.out.audit.requests_per_requester", year=year, previous=year - 1), reqs, req_cols,
                req_csv),
    ])


@audit.command("checks-due")
@AS_OF
@click.option("--kind", help="Only this check kind (credit_rating, tax_registration, …).")
@click.option("--supplier", help="Only this supplier (organisation number).")
@output_options
def checks_due_cmd(as_of, kind, supplier, out: Output) -> None:
    """Supplier checks that are past their validity, were never made, or whose latest result
    was not a pass (an unavailable source is not a pass), per supplier and check kind; and
    framework agreements due for INK's systematic follow-up 12 and 30 months after their start,
    with the due date. Validity per check kind and the follow-up months are dated parameters
    in rules/parameters/. The register does not record completed follow-ups, so a passed due
    date stays listed for the lookback period."""
    day = _as_of(as_of)
    report = call("audit.reads:checks_due", as_of=day, kind=kind, supplier=supplier,
                  http=("GET", "/audit/checks-due", {"as_of": day, "kind": kind, "supplier": supplier}))
    check_cols = [("org_nr", "Org.nr"), ("supplier", "Leverantör"), ("kind", "Kontroll", "check_kind"),
                  ("state", "Läge", "check_state"), ("last_performed_on", "Senast"),
                  ("last_result", "Resultat", "check_result"), ("valid_until", "Giltig t.o.m."), ("why_said", "Varför")]
    fu_cols = [("agreement_id", "Ramavtal"), ("supplier", "Leverantör"), ("insatser", "Insatser", "insats"),
               ("valid_from", "Start"), ("followup", "Uppföljning"), ("due_on", "Förfaller"),
               ("state", "Läge", "check_state"), ("agreement_status", "Avtalsstatus", "agreement_status")]
    out.emit(report, [
        Section("checks", text("cli.out.audit.checks_title", on=day.isoformat(), count=len(report["checks"])),
                report["checks"],
                check_cols),
        Section("agreement_followups", text("cli.out.audit.followups_title", on=day.isoformat(),
                                            count=len(report["agreement_followups"])), report["agreement_followups"],
                fu_cols),
    ])


@audit.command("prices-due")
@AS_OF
@click.option("--supplier", help="Only this supplier (organisation number).")
@output_options
def prices_due_cmd(as_of, supplier, out: Output) -> None:
    """Route prices due for confirmation: last confirmed as current more than the dated
    period (parameter price_confirmation_months, a local setting) before the day, or never
    confirmed ('kontrollera att prisuppgifterna är aktuella', Spink's annual report 2024, 004
    l. 1202-1203). Active routes of units not removed."""
    day = _as_of(as_of)
    report = call("audit.reads:prices_due", as_of=day, supplier=supplier,
                  http=("GET", "/audit/prices-due", {"as_of": day, "supplier": supplier}))
    cols = [("org_nr", "Org.nr"), ("unit_id", "Enhet"), ("unit", "Namn"), ("route", "Regiform", "route"),
            ("insats", "Insats", "insats"), ("agreement_id", "Avtal"), ("daily_price", "Dygnspris"),
            ("price_confirmed_on", "Pris bekräftat"), ("due_on", "Förfaller"), ("state", "Läge", "check_state")]
    out.emit(report, [Section("prices", text("cli.out.audit.prices_title", n=report["months"], on=day.isoformat(),
                                             since=report["confirmed_since"], count=len(report["prices"])),
                              report["prices"], cols)])


@audit.command("direct-procurement")
@YEAR
@output_options
def direct_cmd(year, out: Output) -> None:
    """Direct procurement in a year: placements started in the year per insats and route with
    the share outside framework agreements (direktupphandling); insatser where direct
    procurement recurs (at least the dated parameter audit_direct_procurement_signal_count
    placements, or a share of at least audit_direct_procurement_signal_share: a signal to
    procure); and each supplier's direct purchases over the financial year (daily price × days
    within the year, start and end day included, as the review queue counts them; a placement
    without an end runs to the year's end) against the dated direct-procurement threshold."""
    year = _year(year)
    report = call("audit.reads_yearly:direct_procurement", year=year, http=("GET", "/audit/direct-procurement", {"year": year}))
    per = [{**r, "share": fmt_percent(r["direct_share"]), "label": _in_words(r["label"], r["insats"], "insats")}
           for r in report["per_insats"]]
    signals = [{**r, "label": _in_words(r["label"], r["insats"], "insats")} for r in report["procurement_signals"]]
    sup = [{**r, "of_threshold": fmt_percent(r["share_of_threshold"]), "over": text("cli.out.audit.over") if r["over_threshold"] else "",
            "amount_kr": fmt_money(r["amount"])} for r in report["suppliers"]]
    per_cols = [("label", "Insats"), ("total", "Placeringar"), ("egen_regi", "Egen regi"), ("ramavtal", "Ramavtal"),
                ("iop", "IOP"), ("direktupphandling", "Direkt"), ("share", "Andel direkt")]
    sig_cols = [("label", "Insats"), ("direct", "Direkt"), ("why_said", "Varför")]
    threshold = (text("cli.out.audit.no_threshold") if report["threshold"] is None
                 else text("cli.out.audit.threshold", amount=fmt_money(report["threshold"])))
    sup_cols = [("org_nr", "Org.nr"), ("supplier", "Leverantör"), ("insatser", "Insatser", "insats"),
                ("placements", "Placeringar"), ("days", "Dygn"), ("amount_kr", "Belopp"),
                ("of_threshold", "Av gränsen"), ("over", ""), ("unpriced_placements", "Utan pris")]
    out.emit(report, [
        Section("per_insats", text("cli.out.audit.direct_per_insats", year=year), per, per_cols,
                _as_codes("insats", "total", "egen_regi", "ramavtal", "iop", "direktupphandling", "direct_share")),
        Section("procurement_signals", text("cli.out.audit.direct_signals", year=year),
                signals, sig_cols, _as_codes("insats", "direct", "direct_share", "why")),
        Section("suppliers", text("cli.out.audit.direct_suppliers", year=year, threshold=threshold), sup, sup_cols,
                _as_codes("org_nr", "supplier", "insatser", "placements", "days", "amount", "threshold",
                          "share_of_threshold", "over_threshold", "unpriced_placements")),
    ])


@audit.command("adherence")
@YEAR
@output_options
def adherence_cmd(year, out: Output) -> None:
    """Share of placements started in a year that went to a recommended unit (Nordost 2022:
    91 %), per insats, and the recorded reasons for the others."""
    year = _year(year)
    report = call("audit.reads_yearly:adherence", year=year, http=("GET", "/audit/adherence", {"year": year}))
    head = [{"insats": "total", "label": text("cli.out.audit.total"), "placements": report["placements"],
             "recommended": report["recommended"], "share": report["share"]}]
    per = [{**r, "pct": fmt_percent(r["share"]), "label": _in_words(r["label"], r["insats"], "insats")}
           for r in report["per_insats"] + head]
    per_cols = [("label", "Insats"), ("placements", "Placeringar"), ("recommended", "Rekommenderad"),
                ("pct", "Andel")]
    reason_cols = [("reason", "Skäl"), ("placements", "Placeringar")]
    other_cols = [("placement_id", "Placering"), ("request_id", "Förfrågan"), ("unit_id", "Enhet"),
                  ("insats", "Insats", "insats"), ("route", "Regiform", "route"), ("start_on", "Start"),
                  ("reason", "Skäl"), ("by", "Av")]
    out.emit(report, [
        Section("per_insats", text("cli.out.audit.adherence_title", year=year, share=fmt_percent(report["share"]) or "–"),
                per, per_cols, _as_codes("insats", "placements", "recommended", "share")),
        Section("reasons", text("cli.out.audit.adherence_reasons"), report["reasons"], reason_cols),
        Section("not_recommended", text("cli.out.audit.adherence_others"), report["not_recommended"], other_cols),
    ])


@audit.command("visits")
@AS_OF
@click.option("--level", type=boundary.WholeParam(), help="Only this priority level (1 high … 4 not this year).")
@output_options
def visits_cmd(as_of, level, out: Output) -> None:
    """Units in the visit priority order of Spink (1 high: new or unknown units in insatser in
    high demand (requests rising) or shortage (decisions without an eligible unit), or units
    with signals such as watch status, complaints or failed checks; 2 heavily
    used; 3 rarely used; 4 unused where supply is sufficient), each with why it is there.

    Thresholds are dated parameters (rules/parameters/audit.yaml). Visits are recorded with
    `placering register visit`; a unit visited recently moves to level 3 unless it shows
    signals of shortcomings."""
    day = _as_of(as_of)
    report = call("audit.reads:visits", as_of=day, level=level, http=("GET", "/audit/visits", {"as_of": day, "level": level}))
    if not out.codes:  # the level's name in the people's language (JSON and CSV keep the library's)
        report["units"] = [{**u, "priority": text(f"cli.out.audit.visit_level.{u['level']}")} for u in report["units"]]
    cols = [("level", "Nivå"), ("priority", "Prioritet"), ("unit_id", "Enhet"), ("name", "Namn"),
            ("municipality", "Kommun"), ("insatser", "Insatser", "insats"), ("placements", "Placeringar"),
            ("last_visited", "Senaste besök"), ("why_said", "Varför")]
    csv_cols = _as_codes("level", "priority", "unit_id", "name", "org_nr", "municipality", "insatser", "status",
                         "placements", "in_register_since", "last_visited", "why")
    out.emit(report,
             [Section("units", text("cli.out.audit.visits_title", on=day.isoformat(), count=len(report["units"])),
                      report["units"],
                      cols, csv_cols)])


def _reason_said(code):
    """A history entry's reason in words: a removal's reason, else a decision's end (issue 19:
    'person_request' was shown as it is), else the label of any kind that has the code."""
    from ..labels import has_label, label

    if code is None:
        return None
    for kind in ("removal_reason", "decision_end_reason"):
        if has_label(str(code), kind):
            return label(code, kind)
    return label(code)


@audit.command("log")
@click.option("--actor", help="Only changes made by this actor.")
@click.option("--unit", help="Only changes concerning this unit (unit_id).")
@click.option("--supplier", help="Only changes concerning this supplier (organisation number).")
@click.option("--kind", help="Only this kind of entity (unit, supplier, agreement, permit, check, complaint, …).")
@click.option("--action", help="Only this action (status, agreement_status, permit, created, …).")
@SINCE
@UNTIL
@click.option("--summary", is_flag=True, help="Count changes per actor, kind and action instead of listing them.")
@click.option("--limit", type=boundary.WholeParam(), help="Only the latest N changes (the total is still reported).")
@click.option("--show-protected", is_flag=True, help="Show the location of units with a protected address.")
@output_options
def log_cmd(actor, unit, supplier, kind, action, since, until, summary, limit, show_protected, out: Output) -> None:
    """The change history, filtered to what you are reviewing: one line per change with what
    changed, who, why and which rule; or --summary for counts per actor, kind and action.

    Changes are listed oldest first; --limit N keeps the latest N. A table shows the latest
    changes and says how many there are (--all, --csv, --json give them all). --unit includes
    the entries of the framework agreements the unit's routes are on. The location of a unit
    with a protected address is hidden unless --show-protected."""
    since_d = parse_date(since, "--since")
    until_d = parse_date(until, "--until")
    if limit is None and not summary and not out.machine and not out.all:
        limit = TABLE_ROWS  # a table is for a person: the latest changes, and the count
    filters = {"actor": actor, "unit": unit, "supplier": supplier, "kind": kind, "action": action, "since": since_d,
               "until": until_d, "summary": summary, "limit": limit, "show_protected": show_protected}
    report = call("audit.reads:log", **filters, http=("GET", "/audit/log", filters))
    if summary:
        cols = [("actor", "Av"), ("kind", "Typ", "entity_kind"), ("action", "Händelse", "history_action"),
                ("changes", "Ändringar"), ("entities", "Poster"), ("first", "Första"), ("last", "Sista")]
        out.emit(report, [Section("summary", text("cli.out.audit.log_title", count=report["total"]),
                                  report.get("summary") or [], cols)])
        return
    if not out.codes:
        from .changes import change_text

        # A person reads Swedish field names and labels; --json and --csv keep the codes.
        report["entries"] = [{**e, "what": change_text(e["changes"] or {}, e["action"], e["kind"], people=True),
                              "reason": _reason_said(e.get("reason"))}
                             for e in report["entries"]]
    cols = [("effective_on", "Datum"), ("actor", "Av"), ("kind", "Typ", "entity_kind"), ("entity_id", "Id"),
            ("action", "Händelse", "history_action"), ("what", "Vad ändrades"), ("reason", "Orsak"),
            ("rule_id", "Regel"), ("note", "Anteckning")]
    csv_cols = _as_codes("id", "effective_on", "recorded_at", "actor", "kind", "entity_id", "action", "what",
                         "reason", "rule_id", "note", "unit_id", "org_nr")
    shown = len(report["entries"])
    title = text("cli.out.audit.log_title", count=report["total"]) + (
        text("cli.out.audit.log_latest", shown=shown) if shown < report["total"] else "")
    out.emit(report, [Section("entries", title, report["entries"], cols, csv_cols)])

