"""Reading a submitted form: text as NFC, numbers with a decimal comma, dates, and the one check
every field gets: no personal identity number anywhere (boundary.contains_personnummer, the
library's free-text check)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..boundary import contains_personnummer
from ..text import nfc
from .render import FormErrors

PNR = "Skriv inga personnummer eller samordningsnummer här."


class Form:
    def __init__(self, data: Any, errors: FormErrors | None = None) -> None:
        self.data = data
        self.errors = errors or FormErrors()
        self.values: dict[str, Any] = {}
        for key in set(data.keys()):
            if key == "csrf_token":
                continue
            for v in data.getlist(key):
                if isinstance(v, str) and contains_personnummer(v):
                    self.errors.add(key, PNR)
                    break

    def text(self, name: str, *, required: bool = False, what: str = "") -> str | None:
        raw = self.data.get(name)
        value = nfc(raw).strip() if isinstance(raw, str) else ""
        self.values[name] = value
        if not value:
            if required and self.errors.get(name) is None:
                self.errors.add(name, f"Fyll i {what or name}.")
            return None
        return value

    def many(self, name: str) -> list[str]:
        values = [nfc(v).strip() for v in self.data.getlist(name) if isinstance(v, str) and v.strip()]
        self.values[name] = values
        return values

    def flag(self, name: str) -> bool:
        value = self.data.get(name) in ("1", "on", "ja", "true")
        self.values[name] = value
        return value

    def integer(self, name: str, *, required: bool = False, what: str = "", lo: int | None = None,
                hi: int | None = None) -> int | None:
        text = self.text(name, required=required, what=what)
        if text is None or self.errors.get(name):
            return None
        try:
            value = int(text.replace(" ", "").replace("\u00a0", ""))
        except ValueError:
            self.errors.add(name, f"{what.capitalize() or name} ska vara ett heltal, till exempel 15.")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.errors.add(name, f"{what.capitalize() or name} ska vara mellan {lo} och {hi}.")
            return None
        return value

    def number(self, name: str, *, required: bool = False, what: str = "") -> float | None:
        from ..display import parse_decimal

        text = self.text(name, required=required, what=what)
        if text is None or self.errors.get(name):
            return None
        try:
            return parse_decimal(text.replace(" ", "").replace("\u00a0", ""))
        except (ValueError, Exception):  # noqa: BLE001 - any unreadable number is the person's typo
            self.errors.add(name, f"{what.capitalize() or name} ska vara ett tal, till exempel 12,5.")
            return None

    def day(self, name: str, *, required: bool = False, what: str = "") -> date | None:
        text = self.text(name, required=required, what=what)
        if text is None or self.errors.get(name):
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.errors.add(name, f"{what.capitalize() or name} ska vara ett datum som ÅÅÅÅ-MM-DD, till exempel 2026-03-01.")
            return None
