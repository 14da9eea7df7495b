"""Pages as people read them: the Jinja2 environment (autoescape on), Swedish filters, the
security headers of every page, and the form errors (GOV.UK's error summary pattern: a list at
the top linking to each field, the same message beside the field).

Nothing here reads the register: routes call library functions and hand plain data to a template.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# script-src 'self' and no inline script or style anywhere: every style is in static/placering.css
# (SVG charts use presentation attributes, not style attributes).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def secure(response: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def _label(code: Any, kind: str | None = None) -> str:
    from ..labels import label

    return label(code, kind)


def _labels(codes: Any, kind: str | None = None) -> str:
    from ..labels import labels

    return ", ".join(labels(codes or [], kind))


def _money(value: Any) -> str:
    from ..display import fmt_money

    if value is None or isinstance(value, Undefined) or value == "":
        return "–"
    return fmt_money(float(value))


def _number(value: Any, decimals: int | None = None) -> str:
    from ..display import fmt_number

    if value is None or isinstance(value, Undefined) or value == "":
        return "–"
    if isinstance(value, str):
        return value
    return fmt_number(value, decimals)


def _date(value: Any) -> str:
    from ..display import fmt_date

    if value is None or isinstance(value, Undefined) or value == "":
        return "–"
    if isinstance(value, (date, datetime)):
        return fmt_date(value)
    text = str(value)
    if "T" in text:
        try:
            return fmt_date(datetime.fromisoformat(text))
        except ValueError:
            return text
    return text


def _swedish(message: Any) -> str:
    from ..cli.messages import swedish

    return swedish(message)


def _import_why(why: Any) -> str:
    """An import's reason for a status it set or kept, from the catalogue (register/whys.py)."""
    from ..cli.messages import said
    from ..register.whys import import_why

    return said(import_why(why))


def _percent(value: Any, decimals: int = 0) -> str:
    from ..display import fmt_percent

    return fmt_percent(value, decimals) if value is not None else "–"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "svg"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(label=_label, labels=_labels, money=_money, number=_number, day=_date, swedish=_swedish, import_why=_import_why,
                       percent=_percent)
    return env


def render(request: Any, template: str, context: dict[str, Any] | None = None, *, status: int = 200) -> Response:
    from .session import page_context

    ctx = page_context(request)
    ctx.update(context or {})
    html = environment().get_template(template).render(**ctx)
    return secure(HTMLResponse(html, status_code=status))


class FormErrors:
    """Problems with a form's fields: `summary` for the box at the top (each links to its field
    by id), `get(field)` for the message beside the field. Messages are Swedish."""

    def __init__(self) -> None:
        self.items: list[tuple[str | None, str]] = []

    def add(self, field: str | None, message: str) -> None:
        self.items.append((field, message))

    def add_problems(self, exc: Any, fields: dict[str, str] | None = None) -> None:
        """A library ValidationError's problems, each under its form field (`fields` maps the
        library's field path to the form's field name)."""
        fields = fields or {}
        for p in getattr(exc, "problems", None) or [exc]:
            path = getattr(p, "field", None)
            name = fields.get(path, path) if path else None
            if name is not None and name not in fields.values() and path not in fields:
                # a nested path (person.age) maps by its last part when not given
                name = fields.get(path.split(".")[-1], name)
            self.add(name, _swedish(getattr(p, "message", str(p))))

    def get(self, field: str) -> str | None:
        msgs = [m for f, m in self.items if f == field]
        return " ".join(msgs) if msgs else None

    @property
    def summary(self) -> list[tuple[str | None, str]]:
        return self.items

    def __bool__(self) -> bool:
        return bool(self.items)


def markup(text: str) -> Markup:
    return Markup(text)
