"""The auditor's pages: paused units and agreements as of a date (since when, why, who decided,
which rule), the placements affected, and the yearly tables with server-rendered SVG charts, each
chart with its numbers as a table. Every list downloads as .xlsx and CSV (Swedish headers and
labels). Nothing of a protected address or a position is on any of them."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..access.policy import Action, Principal, authorize
from ..errors import ValidationError
from ..storage import open_session
from .charts import chart_block
from .listing import Column, Listing, download
from .render import FormErrors, render
from .session import engine, run, signed_in

router = APIRouter()


def _day(value: str | None, errors: FormErrors, field: str = "datum") -> date:
    from ..clock import today

    if not value:
        return today()
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors.add(field, "Skriv datumet som ÅÅÅÅ-MM-DD, till exempel 2025-06-30.")
        return today()


@router.get("/revision")
async def index(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.AUDIT_READ)
    return render(request, "audit_index.html", {"title": "Revision"})


PAUSED_COLUMNS = [Column("id", "Id", link="url"), Column("name", "Namn"), Column("status_label", "Status"),
                  Column("since", "Sedan"), Column("reason", "Orsak", "removal_reason"), Column("actor", "Beslutad av"),
                  Column("rule_id", "Regel"), Column("note", "Anteckning"), Column("org_nr", "Org.nr"),
                  Column("insatser", "Insatser", "insats"), Column("municipality", "Kommun"),
                  Column("kind", "Typ", "entity_kind")]


def _paused_listings(db: Any, day: date) -> list[Listing]:
    from ..audit.paused import paused

    with open_session(db) as session:
        report = paused(session, day)

    def rows(items: list) -> list[dict[str, Any]]:
        return [dict(r.to_dict(), url=f"/register/enheter/{r.id}" if r.kind == "unit" else None) for r in items]

    cols = PAUSED_COLUMNS
    p_rows, w_rows = rows(report.paused), rows(report.watch)
    return [Listing("pausade", f"Får inte rekommenderas eller beställas från per {day.isoformat()} ({len(p_rows)})",
                    cols, p_rows, empty="Inga pausade enheter eller avtal."),
            Listing("bevakning", f"Bevakning per {day.isoformat()} ({len(w_rows)})", cols, w_rows,
                    empty="Inga enheter under bevakning.")]


@router.get("/revision/pausade")
async def paused_page(request: Request, datum: str | None = None, format: str | None = None, lista: str | None = None,
                      principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.AUDIT_READ)
    errors = FormErrors()
    day = _day(datum, errors)
    listings = await run(principal, _paused_listings, engine(request), day)
    if format in ("xlsx", "csv") and not errors:
        return download(listings, format, f"pausade-{day.isoformat()}", lista)
    return render(request, "audit_listings.html", {
        "title": "Pausade enheter och avtal", "day": day.isoformat(), "listings": [x.table() for x in listings],
        "errors": errors or None, "action": "/revision/pausade",
        "lead": "Enheter och avtal som inte får rekommenderas eller beställas från, med orsak, beslutsfattare och "
                "regel, så som registret såg ut det datumet (byggt ur historiken)."})


def _affected_listings(db: Any, day: date) -> list[Listing]:
    from ..audit.placements import affected_placements

    with open_session(db) as session:
        report = affected_placements(session, day)
    rows = []
    for p in report.placements:
        d = p.to_dict()
        d["child_label"] = "barn" if d["child"] else ""
        d["started_label"] = "ja" if d["started"] else "nej, ej inflyttad"
        d["url"] = f"/forfragningar/{d['request_id']}"
        rows.append(d)
    cols = [Column("request_id", "Förfrågan", link="url"), Column("child_label", "Barn"),
            Column("person_age", "Ålder", numeric=True), Column("unit_id", "Enhet"), Column("unit_name", "Namn"),
            Column("org_nr", "Org.nr"), Column("insats", "Insats", "insats"), Column("route", "Regiform", "route"),
            Column("start_on", "Start"), Column("started_label", "Påbörjad"), Column("since", "Sedan"),
            Column("cause_said", "Orsak"), Column("municipality", "Kommun"), Column("requester", "Förvaltning")]
    children = sum(1 for r in rows if r["child"])
    return [Listing("placeringar", f"Placeringar att ompröva per {day.isoformat()} ({len(rows)}, varav {children} barn)",
                    cols, rows, empty="Inga placeringar berörs.")]


@router.get("/revision/placeringar")
async def affected_page(request: Request, datum: str | None = None, format: str | None = None,
                        principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.AUDIT_READ)
    errors = FormErrors()
    day = _day(datum, errors)
    listings = await run(principal, _affected_listings, engine(request), day)
    if format in ("xlsx", "csv") and not errors:
        return download(listings, format, f"berorda-placeringar-{day.isoformat()}")
    return render(request, "audit_listings.html", {
        "title": "Berörda placeringar", "day": day.isoformat(), "listings": [x.table() for x in listings],
        "errors": errors or None, "action": "/revision/placeringar",
        "lead": "Placeringar vid en enhet eller ett avtal som är pausat eller borttaget, eller vars IVO-tillstånd "
                "inte längre gäller: personer att överväga för omplacering. Barn först."})


def _yearly(db: Any, year: int) -> tuple[list[Listing], list[dict[str, Any]]]:
    from ..audit.yearly import adherence, direct_procurement, removals, requests
    from ..labels import label

    with open_session(db) as session:
        req = requests(session, year)
        rem = removals(session, year)
        dp = direct_procurement(session, year)
        adh = adherence(session, year)
    prev = str(year - 1)
    cats = [dict(r, share=None if r["percent"] is None else r["percent"] / 100) for r in req.categories]
    insats_rows = [r for r in cats if r["level"] == "insats"]
    listings = [
        Listing("forfragningar", f"Placeringsförfrågningar per kategori {year} jämfört med {year - 1}", [
            Column("area_label", "Kategoriområde"), Column("label", "Kategori"), Column("previous", prev, numeric=True),
            Column("current", str(year), numeric=True), Column("difference", "Skillnad", numeric=True),
            Column("share", "Skillnad %", percent=True)], cats),
        Listing("forvaltningar", f"Placeringsförfrågningar per förvaltning {year} jämfört med {year - 1}", [
            Column("municipality", "Kommun"), Column("requester", "Förvaltning"), Column("previous", prev, numeric=True),
            Column("current", str(year), numeric=True), Column("difference", "Skillnad", numeric=True)],
            req.requesters),
        Listing("borttagna", f"Borttagna ur registret {year} ({rem.total})",
                [Column("reason_label", "Orsak")] + [Column(c, label(c, "insats"), numeric=True) for c in rem.insatser]
                + [Column("total", "Antal", numeric=True)], rem.rows),
        Listing("direktupphandling", f"Placeringar {year} per insats och regiform", [
            Column("label", "Insats"), Column("total", "Totalt", numeric=True),
            Column("egen_regi", label("egen_regi", "route"), numeric=True),
            Column("ramavtal", label("ramavtal", "route"), numeric=True), Column("iop", label("iop", "route"), numeric=True),
            Column("direktupphandling", label("direktupphandling", "route"), numeric=True),
            Column("direct_share", "Andel direktupphandlat", percent=True)], dp.per_insats),
        Listing("direktkop", f"Direktköp per leverantör {year} mot gränsen", [
            Column("org_nr", "Org.nr"), Column("supplier", "Leverantör"), Column("placements", "Placeringar", numeric=True),
            Column("amount", "Belopp", money=True), Column("threshold", "Gräns", money=True),
            Column("share_of_threshold", "Andel av gränsen", percent=True), Column("over_threshold", "Över gränsen"),
            Column("insatser", "Insatser", "insats")], dp.suppliers),
        Listing("foljsamhet", f"Följsamhet {year}: placeringar vid en rekommenderad enhet", [
            Column("label", "Insats"), Column("placements", "Placeringar", numeric=True),
            Column("recommended", "Rekommenderad enhet", numeric=True), Column("share", "Andel", percent=True)],
            adh.per_insats),
    ]
    charts = []
    if insats_rows:
        charts.append(chart_block("chart-requests", f"Förfrågningar per insats {year} och {year - 1}",
                                  [r["label"] for r in insats_rows],
                                  [(str(year), [r["current"] for r in insats_rows]),
                                   (prev, [r["previous"] for r in insats_rows])]))
    reasons = [r for r in rem.rows if r["reason"] != "total"]
    if reasons:
        charts.append(chart_block("chart-removals", f"Borttagna ur registret {year} per orsak",
                                  [r["reason_label"] for r in reasons], [(str(year), [r["total"] for r in reasons])]))
    dp_rows = [r for r in dp.per_insats if r["insats"] != "total"]
    if dp_rows:
        charts.append(chart_block("chart-direct", f"Andel direktupphandlade placeringar {year} per insats (%)",
                                  [r["label"] for r in dp_rows],
                                  [(str(year), [round(100 * (r["direct_share"] or 0), 1) for r in dp_rows])], unit=" %"))
    return listings, charts


@router.get("/revision/ar")
async def yearly_page(request: Request, ar: str | None = None, format: str | None = None, lista: str | None = None,
                      principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.AUDIT_READ)
    from ..clock import today

    errors = FormErrors()
    year = today().year
    if ar:
        try:
            year = int(ar)
        except ValueError:
            errors.add("ar", "Skriv året med fyra siffror, till exempel 2025.")
    try:
        listings, charts = await run(principal, _yearly, engine(request), year)
    except ValidationError as exc:
        errors.add_problems(exc, {None: "ar"})
        year = today().year
        listings, charts = await run(principal, _yearly, engine(request), year)
    if format in ("xlsx", "csv") and not errors:
        return download(listings, format, f"arsstatistik-{year}", lista)
    return render(request, "audit_yearly.html", {"title": f"Årsstatistik {year}", "year": year, "charts": charts,
                                                 "listings": [x.table() for x in listings], "errors": errors or None})
