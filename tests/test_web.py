"""The web interface (issue 18) end to end in a real browser: Playwright driving the distribution's
Chromium against `placering serve`'s application (create_app, uvicorn on a loopback port) on the
demo register (~900 units), on SQLite and PostgreSQL.

Each role's main flow from sign-in to result (the reviewer's with the keyboard only); a social
worker of one municipality never sees another's request; every page visited passes axe-core with
0 serious or critical violations at 1280 and 390 px; no protected position on a page or in a
download. One browser per test session, one signed-in page per role, reused.

Set PLACERING_WEB_SCREENSHOTS=DIR to keep the screenshots (the README's are made so:
PLACERING_WEB_SCREENSHOTS=docs/screenshots); PLACERING_WEB_TIMINGS=FILE appends the page timings
(p50/p95 of the match page and the unit page) as JSON lines.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("playwright")

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

CHROMIUM = os.environ.get("PLACERING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "losenord-1234"
PEOPLE = [("hanna", ["handler"], None), ("sara", ["social_worker"], "Göteborg"),
          ("moa", ["social_worker"], "Mölndal"), ("rut", ["reviewer"], None), ("mats", ["maintainer"], None),
          ("pia", ["procurement"], None), ("alva", ["auditor"], None), ("adam", ["admin"], None)]
WIDTHS = (1280, 390)


# --- the server -----------------------------------------------------------------------------------

def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@dataclass
class Site:
    backend: str
    base: str
    engine: object
    pages: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def _database(backend: str, tmp: Path):
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'web.db'}", None
    base = os.environ.get("PLACERING_TEST_PG_URL")
    if not base:
        if os.environ.get("PLACERING_REQUIRE_PG") == "1":
            pytest.fail("PLACERING_REQUIRE_PG=1 but PLACERING_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL not configured (set PLACERING_TEST_PG_URL, or run scripts/test.sh)")
    from placering.storage.database import database_url

    base = database_url(base)
    name = f"placering_web_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(base).set(database=name).render_as_string(hide_password=False), drop


class _Sites:
    """The servers of this test session, one per back end, started when first asked for and
    stopped at the end of the session (never torn down and set up again between tests)."""

    def __init__(self, tmp_path_factory) -> None:
        self.tmp = tmp_path_factory
        self.sites: dict[str, Site] = {}
        self.stops: list = []

    def get(self, backend: str) -> Site:
        if backend not in self.sites:
            self.sites[backend] = self._start(backend)
        return self.sites[backend]

    def _start(self, backend: str) -> Site:
        import uvicorn

        from placering.access.users import add_user
        from placering.demo import load_demo
        from placering.server.app import create_app
        from placering.server.settings import ServerSettings
        from placering.storage import transaction
        from placering.storage.database import make_engine, upgrade

        url, drop = _database(backend, self.tmp.mktemp("web"))
        engine = make_engine(url)
        upgrade(engine)
        load_demo(engine, actor="demo")
        with transaction(engine) as session:
            for login, roles, municipality in PEOPLE:
                add_user(session, login, roles=roles, municipality=municipality, password=PASSWORD)
        app = create_app(ServerSettings(database_url=url, secret_key="w" * 40, cookie_secure=False,
                                        log_requests=False), engine=engine)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        site = Site(backend, f"http://127.0.0.1:{port}", engine)

        def stop() -> None:
            for page in site.pages.values():
                page.context.close()
            server.should_exit = True
            thread.join(10)
            engine.dispose()
            if drop is not None:
                drop()
            _report_timings(site)

        self.stops.append(stop)
        return site

    def close(self) -> None:
        for stop in reversed(self.stops):
            stop()


@pytest.fixture(scope="session")
def _sites(tmp_path_factory, browser):  # after the browser: its pages close before it does
    sites = _Sites(tmp_path_factory)
    yield sites
    sites.close()


# Every test runs on both back ends; all tests of one back end on one xdist worker
# (scripts/test.sh runs --dist loadgroup), so its demo register is loaded once.
pytestmark = pytest.mark.parametrize("site", [
    pytest.param("sqlite", marks=pytest.mark.xdist_group("web-sqlite")),
    pytest.param("postgresql", marks=pytest.mark.xdist_group("web-postgresql"))], indirect=True)


@pytest.fixture
def site(request, _sites) -> Site:
    return _sites.get(request.param)


def _report_timings(s: Site) -> None:
    if not s.timings:
        return
    lines = []
    for what, samples in s.timings.items():
        q = statistics.quantiles(samples, n=20, method="inclusive") if len(samples) > 1 else samples * 19
        lines.append({"backend": s.backend, "page": what, "n": len(samples),
                      "p50_ms": round(1000 * statistics.median(samples), 1), "p95_ms": round(1000 * q[18], 1)})
    for line in lines:
        print("web timing:", json.dumps(line))
    out = os.environ.get("PLACERING_WEB_TIMINGS")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            for line in lines:
                fh.write(json.dumps(line) + "\n")


# --- the browser ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: scripts/test.sh installs the distribution's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# A match that builds its register revision's snapshot can take many seconds on a busy 2-core
# CI machine (the other worker runs the rest of the suite): its page is waited for longer.
MATCH_WAIT_MS = 90_000


def sign_in(browser, site: Site, login: str, password: str = PASSWORD):
    context = browser.new_context(base_url=site.base, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto("/logga-in")
    page.get_by_label("Användarnamn").fill(login)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(re.compile(r".*/$"))
    assert page.get_by_role("heading", level=1).inner_text() == f"Välkommen, {login}"
    return page


def as_(browser, site: Site, login: str):
    """The signed-in page of a person, made once per server and reused."""
    if login not in site.pages:
        site.pages[login] = sign_in(browser, site, login)
    return site.pages[login]


_AXE = None


def accessible(page) -> None:
    """axe-core: no serious or critical violation at 1280 and at 390 px; every page has lang=sv,
    one h1 and its CSP header without inline script."""
    global _AXE
    from axe_playwright_python.sync_playwright import Axe

    _AXE = _AXE or Axe()
    assert page.locator("html").get_attribute("lang") == "sv"
    assert page.locator("h1").count() == 1, page.url
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        result = _AXE.run(page)
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result.response["violations"]
               if v["impact"] in ("serious", "critical")]
        assert not bad, f"{page.url} at {width} px: {bad}"
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, f"{page.url} scrolls sideways at {width} px"
    page.set_viewport_size({"width": 1280, "height": 900})


def visit(page, path: str, status: int = 200):
    response = page.goto(path)
    assert response.status == status, (path, response.status)
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    return response


def shot(page, name: str) -> None:
    """Screenshots at both widths (kept in PLACERING_WEB_SCREENSHOTS, e.g. docs/screenshots)."""
    target = os.environ.get("PLACERING_WEB_SCREENSHOTS")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        path = Path(target or "/tmp") / f"{name}-{width}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=width == 1280)
    page.set_viewport_size({"width": 1280, "height": 900})


def timed(site: Site, what: str, page, path: str, n: int = 12) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        visit(page, path)
        site.timings.setdefault(what, []).append(time.perf_counter() - t0)


def notice(page) -> str:
    """The page's notice after a change (else the test fails with what the page says instead)."""
    page.wait_for_load_state()
    box = page.locator(".notice")
    if box.count() != 1:
        raise AssertionError(f"no notice on {page.url}: {page.locator('main').inner_text()[:1500]}")
    return box.inner_text()


def wait_for_case(page) -> None:
    """After "Matcha": the new case's page. When it does not come, the failure says what the
    page shows instead (a refusal on the form, an error page) rather than only a timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_url(re.compile(r".*/forfragningar/W-"), timeout=MATCH_WAIT_MS)
    except PlaywrightTimeout:
        shown = page.locator("body").inner_text(timeout=5_000)
        pytest.fail(f"no case page after Matcha; at {page.url}, the page says:\n{shown[:3000]}")


def _start_on() -> str:
    from placering.clock import today

    return (today() + timedelta(days=1)).isoformat()


def fill_request(page, *, municipality: str | None = "Göteborg", requester: str = "Nordost", age: str = "15") -> None:
    if municipality is not None:
        page.get_by_label("Kommun", exact=True).select_option(municipality)
    page.get_by_label("Förvaltning eller enhet").fill(requester)
    page.get_by_label("Insats", exact=True).select_option("hvb_barn_unga")
    page.get_by_label("Delkategori").select_option("akut")
    page.get_by_label("Brådska").select_option("akut")
    page.get_by_label("Startdatum").fill(_start_on())
    page.get_by_label("Ålder").fill(age)
    page.get_by_label("Kön").select_option("female")
    page.get_by_label("Missbruk").check()
    page.get_by_label("Hemkommun").select_option("Göteborg")
    page.get_by_label("Största avstånd i km").fill("150")


# --- the handler ----------------------------------------------------------------------------------

def test_handler_matches_declines_and_chooses(browser, site):
    page = as_(browser, site, "hanna")
    visit(page, "/forfragningar/ny")
    accessible(page)
    fill_request(page)
    page.get_by_role("button", name="Matcha").click()
    wait_for_case(page)
    url = page.url
    accessible(page)
    recs = page.locator("ol.recs > li")
    assert recs.count() >= 2
    first = recs.nth(0).inner_text()
    for word in ("Regiform", "Dygnspris", "Avstånd", "Flaggor", "Varför"):
        assert word in first
    assert re.search(r"\d+,\d km", first), first
    groups = page.locator("ul.groups a")
    assert groups.count() >= 3 and "enheter" in groups.first.inner_text()
    shot(page, "match")
    timed(site, "match page (900 units)", page, url)
    groups.first.click()
    assert page.locator("tbody tr").count() >= 1
    accessible(page)
    timed(site, "excluded units of one reason (900 units)", page, page.url.replace(site.base, ""), n=5)
    visit(page, url)

    unit1 = recs.nth(0).locator("input[name=unit_id]").first.get_attribute("value")
    unit2 = recs.nth(1).locator("input[name=unit_id]").first.get_attribute("value")
    # decline without a reason: the message beside the field and in the summary, which links to it
    page.get_by_role("button", name="Enheten tackade nej").first.click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert summary.locator(f'a[href="#decline-{unit1}"]').count() == 1
    assert page.locator(f"#decline-{unit1}-fel").is_visible()
    page.locator(f"#decline-{unit1}").fill("Ingen plats just nu")
    page.locator(f"#decline-{unit1}").press("Enter")
    assert f"Enheten {unit1} har tackat nej" in notice(page)
    assert "Ingen plats just nu" in page.locator("main").inner_text()
    assert page.get_by_role("button", name=f"Välj {unit1}").count() == 0  # a unit that said no is not offered
    page.get_by_role("button", name=f"Välj {unit2}").click()
    assert "Enheten är vald" in notice(page)
    assert page.get_by_role("heading", name="Placering").is_visible()
    accessible(page)
    visit(page, "/forfragningar")
    assert url.rsplit("/", 1)[1] in page.locator("table").inner_text()
    accessible(page)


def test_placement_page_records_the_three_month_survey(browser, site):
    from placering.clock import today
    from placering.storage import open_session
    from placering.storage.models import Placement, PlacementRequest, PlacementSurvey

    with open_session(site.engine) as session:
        request_id = session.execute(
            select(PlacementRequest.request_id).join(Placement, Placement.request_id == PlacementRequest.id)
            .outerjoin(PlacementSurvey, PlacementSurvey.placement_id == Placement.id)
            .where(Placement.insats == "hvb_barn_unga", Placement.person_age < 18, Placement.status == "active",
                   Placement.end_on.is_(None), Placement.start_on <= today() - timedelta(days=10),
                   PlacementSurvey.id.is_(None))
            .order_by(PlacementRequest.request_id).limit(1)).scalar_one()
    page = as_(browser, site, "hanna")
    visit(page, f"/forfragningar/{request_id}")
    assert page.get_by_role("heading", name="Placering").is_visible()
    page.locator("summary", has_text="Registrera enkäten").click()
    page.get_by_label("Besvarad").fill(today().isoformat())
    page.get_by_label("Positiv förändring för barnet").select_option("ja")
    page.get_by_label("Vårdens kvalitet").select_option("bra")
    page.get_by_label("Barnet svarade själv").select_option("nej")
    page.get_by_role("button", name="Spara enkäten").click()
    assert "Enkäten efter tre månader är sparad" in notice(page)
    assert "besvarad" in page.locator("main").inner_text()
    accessible(page)


def test_request_form_refuses_personnummer_and_says_where(browser, site):
    from placering.storage.models import PlacementRequest

    page = as_(browser, site, "hanna")
    with site.engine.connect() as conn:
        before = conn.execute(select(PlacementRequest.id)).all()
    visit(page, "/forfragningar/ny")
    fill_request(page, requester="19121212-1212", age="femton")
    page.get_by_label("Kommun att undvika").select_option("Göteborg")
    page.get_by_role("button", name="Matcha").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    text_ = summary.inner_text()
    assert "personnummer" in text_ and "heltal" in text_
    assert summary.locator('a[href="#requester"]').count() == 1 and summary.locator('a[href="#age"]').count() == 1
    assert "personnummer" in page.locator("#requester-fel").inner_text()
    assert page.locator("#age").get_attribute("aria-invalid") == "true"
    summary.locator('a[href="#age"]').click()
    assert page.evaluate("document.activeElement.id") == "age"
    accessible(page)
    with site.engine.connect() as conn:
        assert conn.execute(select(PlacementRequest.id)).all() == before


def test_social_worker_never_sees_another_municipality(browser, site):
    sara = as_(browser, site, "sara")
    visit(sara, "/forfragningar/ny")
    assert sara.get_by_label("Kommun", exact=True).count() == 0  # her own municipality, no choice
    fill_request(sara, municipality=None, requester="Centrum")
    sara.get_by_role("button", name="Matcha").click()
    wait_for_case(sara)
    path = "/forfragningar/" + sara.url.rsplit("/", 1)[1]
    assert "Göteborg" in sara.locator("dl.facts").first.inner_text()

    moa = as_(browser, site, "moa")
    visit(moa, path, status=403)
    body = moa.locator("main").inner_text()
    assert "Inte tillåtet" in body and "Centrum" not in body and "Rekommendationer" not in body
    accessible(moa)
    visit(moa, "/forfragningar?alla=1")
    assert path.rsplit("/", 1)[1] not in moa.locator("main").inner_text()
    response = moa.request.get(site.base + path + "/valj")
    assert response.status in (403, 405)


# --- the reviewer, keyboard only ------------------------------------------------------------------

def _tab_to(page, selector: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle + ' ' + "
                                    "getComputedStyle(document.activeElement).boxShadow")
            assert outline.strip() not in ("none none", "none"), f"no visible focus on {selector}"
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_reviewer_decides_with_the_keyboard_only(browser, site):
    context = browser.new_context(base_url=site.base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        visit(page, "/granskningar")  # a bookmark: sign in first, then back here
        assert "/logga-in" in page.url
        _tab_to(page, "#login")
        page.keyboard.type("rut")
        _tab_to(page, "#password")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/granskningar$"))
        accessible(page)
        _tab_to(page, 'a[href^="/granskningar/"]')
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/granskningar/\d+$"))
        main = page.locator("main").inner_text()
        assert "Referenspris" in main and "Direktköp" in main and "gränsen" in main
        accessible(page)
        _tab_to(page, "#decision-approve")
        page.keyboard.press("Space")
        _tab_to(page, "#note")
        page.keyboard.type("Priset är rimligt mot referenspriset.")
        _tab_to(page, 'button[type="submit"]:not(.link-button)')
        page.keyboard.press("Enter")
        page.wait_for_selector(".notice")
        assert "godkänd" in notice(page)
        assert "Godkänd" in page.get_by_role("heading", level=1).inner_text()
    finally:
        context.close()


def test_reviewer_never_decides_own_case(browser, site):
    from placering.matching.review import list_reviews
    from placering.storage import open_session

    with open_session(site.engine) as session:
        pending = [r for r in list_reviews(session, "pending") if r["request_id"].startswith("R-")]  # the demo's
    assert pending
    from placering.access.users import add_user
    from placering.storage import transaction

    with transaction(site.engine) as session:  # the demo's handler, who decided every demo case, as a reviewer
        add_user(session, "demo-handläggare", roles=["reviewer"], password=PASSWORD)
    page = sign_in(browser, site, "demo-handläggare")
    try:
        visit(page, f"/granskningar/{pending[-1]['id']}")
        page.get_by_label("Avslå").check()
        page.get_by_label("Motivering").fill("Mitt eget ärende")
        page.get_by_role("button", name="Spara beslutet").click()
        assert "avgörs av en annan granskare" in page.locator(".error-summary").inner_text()
        assert "Väntar" in page.get_by_role("heading", level=1).inner_text()
    finally:
        page.context.close()


# --- the maintainer and procurement -----------------------------------------------------------------

def test_maintainer_searches_and_changes_a_unit(browser, site):
    page = as_(browser, site, "mats")
    visit(page, "/register?q=angen")
    accessible(page)
    first = page.locator("tbody tr").first.inner_text()
    assert "Ängen" in first
    page.locator("tbody tr").first.get_by_role("link").click()
    unit_path = page.url.replace(site.base, "")
    accessible(page)
    for heading in ("IVO-tillstånd", "Leverantörskontroller", "Synpunkter", "Besök", "Historik"):
        assert page.get_by_role("heading", name=heading).count() == 1
    page.locator("summary", has_text="Registrera besök").click()
    page.get_by_label("Besöksdatum").fill("2025-05-05")
    page.get_by_label("Vad som sågs").fill("Fina lokaler")
    page.get_by_role("button", name="Registrera besök").click()
    assert "Besöket är registrerat" in notice(page)
    assert "Fina lokaler" in page.locator("main").inner_text()
    page.locator("summary", has_text="Ändra status").click()
    page.get_by_label("Ny status").select_option("removed")
    page.get_by_role("button", name="Ändra status").click()
    assert page.locator(".error-summary").is_visible()
    accessible(page)
    page.get_by_label("Ny status").select_option("watch")
    page.get_by_label("Anteckning").fill("Bevakas efter besöket")
    page.get_by_role("button", name="Ändra status").click()
    assert "Status ändrad till bevakning" in notice(page)
    assert "Bevakas efter besöket" in page.locator(".timeline").inner_text()
    timed(site, "unit page", page, unit_path)
    for path in ("/register/intrade", "/register/forslag", "/register/forslag?status=&kind=order_stop",
                 "/register/import"):
        visit(page, path)
        accessible(page)


def test_maintainer_imports_with_a_preview(browser, site, tmp_path):
    from placering.register.service import export_document
    from placering.storage import open_session
    from placering.storage.models import Unit

    with open_session(site.engine) as session:
        doc = export_document(session)
    supplier = next(s for s in doc["suppliers"] if s.get("units"))
    unit = supplier["units"][0]
    unit["name"] = unit["name"] + " Nya"
    small = dict(doc, suppliers=[supplier])
    page = as_(browser, site, "mats")
    visit(page, "/register/import")
    page.get_by_label("Registerfil").set_input_files(files=[{
        "name": "register.json", "mimeType": "application/json",
        "buffer": json.dumps(small, ensure_ascii=False, default=str).encode("utf-8")}])
    page.get_by_role("button", name="Förhandsgranska").click()
    main = page.locator("main").inner_text()
    assert "Inget är skrivet ännu" in main and "1 ändrade" in main and unit["unit_id"] in main
    accessible(page)
    with site.engine.connect() as conn:
        assert conn.execute(select(Unit.name).where(Unit.unit_id == unit["unit_id"])).scalar_one() != unit["name"]
    page.get_by_role("button", name="Importera nu").click()
    assert "är importerad" in notice(page)
    with site.engine.connect() as conn:
        assert conn.execute(select(Unit.name).where(Unit.unit_id == unit["unit_id"])).scalar_one() == unit["name"]


def test_procurement_stops_orders_for_one_supplier(browser, site):
    from placering.storage import open_session
    from placering.storage.models import Unit, UnitRoute

    with open_session(site.engine) as session:
        unit_id, agreement = session.execute(
            select(Unit.unit_id, UnitRoute.agreement_id).join(UnitRoute, UnitRoute.unit_id == Unit.id)
            .where(UnitRoute.route == "ramavtal", UnitRoute.status == "active", Unit.status == "published")
            .order_by(Unit.unit_id).limit(1)).one()
    page = as_(browser, site, "pia")
    visit(page, f"/register/enheter/{unit_id}")
    page.locator("summary", has_text="Orderstopp eller annan avtalsstatus").click()
    page.get_by_label("Avtal", exact=True).select_option(agreement)
    page.get_by_label("Varför").fill("Utredning av brister")
    page.get_by_role("button", name="Ändra avtalsstatus").click()
    assert f"Avtal {agreement}: beställningsstopp" in notice(page)
    assert "Beställningsstopp" in page.locator("main table").first.inner_text()
    accessible(page)


# --- the auditor ----------------------------------------------------------------------------------

def test_auditor_paused_yearly_and_downloads(browser, site):
    from openpyxl import load_workbook

    from placering.clock import today

    page = as_(browser, site, "alva")
    visit(page, "/revision")
    accessible(page)
    visit(page, "/revision/pausade")
    main = page.locator("main").inner_text()
    assert "Beslutad av" in main and "Orsak" in main
    accessible(page)
    with page.expect_download() as info:
        page.get_by_role("link", name="Excel").first.click()
    wb = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    ws = wb["pausade"]
    headers = [c.value for c in ws[1]]
    assert headers[:6] == ["Id", "Namn", "Status", "Sedan", "Orsak", "Beslutad av"]
    statuses = {ws.cell(row=r, column=3).value for r in range(2, ws.max_row + 1)}
    assert statuses and not statuses & {"removed", "unpublished", "recommendation_stop", "order_stop"}  # labels
    response = page.request.get(site.base + "/revision/pausade?format=csv&lista=pausade")
    body = response.body().decode("utf-8")
    assert body.startswith("\ufeffId;Namn;Status")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == ws.max_row
    visit(page, "/revision/placeringar")
    accessible(page)
    year = today().year - 1
    visit(page, f"/revision/ar?ar={year}")
    assert page.locator("figure.chart svg").count() >= 2
    assert page.get_by_role("table").count() >= 4
    accessible(page)
    shot(page, "yearly")
    with page.expect_download() as info:
        page.get_by_role("link", name="Hela årsstatistiken som Excel").click()
    wb = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert {"forfragningar", "borttagna", "direktupphandling"} <= set(wb.sheetnames)


def test_no_protected_position_on_any_page_or_download(browser, site):
    from placering.display import fmt_number
    from placering.storage import open_session
    from placering.storage.models import Unit

    with open_session(site.engine) as session:
        units = session.execute(select(Unit.unit_id, Unit.lat, Unit.lon).where(Unit.protected_address.is_(True))
                                .limit(3)).all()
    assert units
    page = as_(browser, site, "mats")
    texts = []
    for unit_id, lat, lon in units:
        visit(page, f"/register/enheter/{unit_id}")
        assert "skyddad adress" in page.locator("main").inner_text()
        texts.append((page.content(), lat, lon))
    audit = as_(browser, site, "alva")
    for path in ("/revision/pausade?format=csv", "/revision/placeringar?format=csv"):
        texts.append((audit.request.get(site.base + path).body().decode("utf-8"), None, None))
    for content, lat, lon in texts:
        for _, la, lo in units:
            for value in (la, lo):
                for shown in (str(value), fmt_number(value), f"{value:.4f}", f"{value:.4f}".replace(".", ",")):
                    assert shown not in content


# --- the admin ------------------------------------------------------------------------------------

def test_admin_adds_a_person_and_a_token(browser, site):
    page = as_(browser, site, "adam")
    visit(page, "/admin")
    accessible(page)
    page.get_by_label("Användarnamn").fill("nils")
    page.get_by_label("Lösenord för lokalt konto").fill("ett-langt-losenord")
    page.get_by_role("group", name="Roller").first.get_by_label("Revisor").check()
    page.get_by_role("button", name="Spara person").click()
    assert "nils har nu rollerna" in notice(page)
    page.get_by_label("Namn (systemet nyckeln är till)").fill("Verksamhetssystemet")
    page.locator("#token_roles-auditor").check()
    page.get_by_role("button", name="Skapa nyckel").click()
    assert "visas inte igen" in page.locator(".warning").inner_text()
    accessible(page)
    nils = sign_in(browser, site, "nils", "ett-langt-losenord")
    try:
        assert nils.get_by_role("link", name="Revision").count() >= 1
        visit(nils, "/admin", status=403)
    finally:
        nils.context.close()


# --- the rest of the pages -------------------------------------------------------------------------

def test_a_person_approves_a_device_login_on_the_enhet_page(browser, site):
    """`placering login --device`: the code the terminal shows is typed on /enhet, refused when
    wrong, and approved after the person has seen what asks."""
    import httpx

    started = httpx.post(site.base + "/api/v1/auth/device", json={"client_name": "placering CLI på datorn test"})
    assert started.status_code == 200, started.text
    code = started.json()["user_code"]
    hanna = as_(browser, site, "hanna")
    visit(hanna, "/enhet")
    accessible(hanna)
    hanna.get_by_label("Kod").fill("QQQQ-QQQQ")
    hanna.get_by_role("button", name="Fortsätt").click()
    hanna.wait_for_load_state()
    assert "Ingen väntande inloggning" in hanna.locator("main").inner_text()
    accessible(hanna)
    visit(hanna, "/enhet")
    hanna.get_by_label("Kod").fill(code.lower().replace("-", " "))  # as a person may type it
    hanna.get_by_role("button", name="Fortsätt").click()
    hanna.wait_for_load_state()
    assert "placering CLI på datorn test" in hanna.locator("dl.facts").inner_text()
    accessible(hanna)
    shot(hanna, "enhet-godkann")
    hanna.get_by_role("button", name="Godkänn").click()
    assert "Inloggningen är godkänd" in notice(hanna)
    accessible(hanna)
    token = httpx.post(site.base + "/api/v1/auth/device/token",
                       json={"device_code": started.json()["device_code"],
                             "grant_type": "urn:ietf:params:oauth:grant-type:device_code"})
    assert token.status_code == 200 and token.json()["login"] == "hanna", token.text


def test_every_other_page_is_accessible(browser, site):
    context = browser.new_context(base_url=site.base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        visit(page, "/logga-in")
        accessible(page)
        page.get_by_role("button", name="Logga in").click()
        assert page.locator(".error-summary a[href='#login']").count() == 1
        accessible(page)
    finally:
        context.close()
    hanna = as_(browser, site, "hanna")
    for path in ("/", "/forfragningar", "/forfragningar?alla=1", "/granskningar"):
        visit(hanna, path)
        accessible(hanna)
    visit(hanna, "/forfragningar/INGEN-SADAN", status=404)
    accessible(hanna)
    rut = as_(browser, site, "rut")
    visit(rut, "/granskningar?status=approved")
    accessible(rut)
    visit(rut, "/forfragningar/ny", status=403)
    accessible(rut)
