"""The flat CSV of units: one row per unit and route, for spreadsheets and quick bulk edits.

Columns (lists inside a cell are separated by `;`):

  org_nr, supplier_name, legal_form,
  unit_id, unit_name, municipality, lat, lon, protected_address, places, free_places,
  age_min, age_max, genders, target_groups, unit_status, removal_reason, status_note,
  insats, subcategories,
  route, agreement_id, daily_price, valid_from, valid_to, buyers, agreement_status,
  reserved_nonprofit

A unit with several routes has one row per route (its unit columns repeated and equal); an
insats the unit offers without a route has a row with the route columns empty; a unit that
offers nothing has one row with `insats` empty. The CSV carries no permits or checks: importing
it keeps those the register has. Rows are grouped into a `placering-register/1` document and
imported by `service.import_document`, so the same validation applies; every error names the
CSV file, its line and column.

Encoding: UTF-8, with or without a byte-order mark. A file that is not valid UTF-8 is read as
Latin-1 (ISO 8859-1) only when that is unambiguous: every byte that is not ASCII is a Latin-1
letter or sign (0xA0–0xFF; Swedish å ä ö are 0xE5 0xE4 0xF6). Bytes 0x80–0x9F mean something
else (Windows-1252 punctuation, or broken UTF-8), so such a file is rejected with the offset
and line of the first one.
"""

from __future__ import annotations

import csv
import re
import io
from dataclasses import dataclass, field
from typing import Any

from ..boundary import bad_character
from ..errors import Problem, ValidationError
from ..text import canonical_org_nr, nfc
from .schema import FORMAT

COLUMNS = [
    "org_nr", "supplier_name", "legal_form",
    "unit_id", "unit_name", "municipality", "lat", "lon", "protected_address", "places", "free_places",
    "age_min", "age_max", "genders", "target_groups", "unit_status", "removal_reason", "status_note",
    "insats", "subcategories",
    "route", "agreement_id", "daily_price", "valid_from", "valid_to", "buyers", "agreement_status",
    "reserved_nonprofit",
]
SUPPLIER_COLUMNS = ("supplier_name", "legal_form")
UNIT_COLUMNS = ("unit_name", "municipality", "lat", "lon", "protected_address", "places", "free_places",
                "age_min", "age_max", "genders", "target_groups", "unit_status", "removal_reason",
                "status_note")
ROUTE_COLUMNS = ("route", "agreement_id", "daily_price", "valid_from", "valid_to", "buyers",
                 "agreement_status", "reserved_nonprofit")

# Document field → CSV column, for error messages.
_UNIT_FIELD_COLUMN = {"name": "unit_name", "status": "unit_status", "location": "lat"}
_ROUTE_FIELD_COLUMN = {"status": "agreement_status"}
_SUPPLIER_FIELD_COLUMN = {"name": "supplier_name"}


@dataclass
class DecodedText:
    text: str
    encoding: str
    notes: list[str] = field(default_factory=list)


def decode(data: bytes, file: str) -> DecodedText:
    """UTF-8 (BOM or not), else unambiguous Latin-1, else a ValidationError saying where."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        bom = True
    else:
        bom = False
    try:
        return DecodedText(data.decode("utf-8"), "utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    for offset, byte in enumerate(data):
        if 0x80 <= byte <= 0x9F:
            line = data.count(b"\n", 0, offset) + 1
            raise ValidationError(Problem(
                f"not UTF-8 text (byte 0x{data[utf8_error.start]:02X} at offset {utf8_error.start}), and not "
                f"unambiguous Latin-1 either (byte 0x{byte:02X} at offset {offset}); save the file as UTF-8",
                file=file, line=line))
    first = utf8_error.start
    line = data.count(b"\n", 0, first) + 1
    return DecodedText(
        data.decode("latin-1"), "latin-1",
        [f"{file}: not UTF-8 (byte 0x{data[first]:02X} at offset {first}, line {line}); "
         "read it as Latin-1 (ISO 8859-1)"])


NUMBER_COLUMNS = ("lat", "lon", "places", "free_places", "age_min", "age_max", "daily_price")
BOOLEAN_COLUMNS = ("protected_address", "reserved_nonprofit")
# What Swedish Excel writes for TRUE/FALSE, and what people type.
_TRUE = {"true", "sant", "ja", "1", "x"}
_FALSE = {"false", "falskt", "nej", "0", ""}

DIALECTS = {"plain": ",", "excel": ";"}


def _cell(value, dialect: str = "plain") -> str:
    from ..cli.common import csv_cell  # one rule for every CSV cell: decimals, formulas, controls

    return csv_cell(value, dialect)


def export_csv(doc: dict, dialect: str = "plain") -> str:
    """The document's units as CSV text (see the module docstring for the columns): plain
    (comma, UTF-8, decimal point) or excel (semicolon, UTF-8 with BOM, decimal comma)."""
    buf = io.StringIO()
    if dialect == "excel":
        buf.write("\ufeff")
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, delimiter=DIALECTS[dialect],
                            lineterminator="\r\n" if dialect == "excel" else "\n")
    writer.writeheader()
    for s in doc["suppliers"]:
        for u in s["units"]:
            loc = u.get("location") or {}
            base = {
                "org_nr": s["org_nr"], "supplier_name": s["name"], "legal_form": s["legal_form"],
                "unit_id": u["unit_id"], "unit_name": u["name"], "municipality": u["municipality"],
                "lat": loc.get("lat"), "lon": loc.get("lon"), "protected_address": u["protected_address"],
                "places": u["places"], "free_places": u["free_places"], "age_min": u["age_min"],
                "age_max": u["age_max"], "genders": u["genders"], "target_groups": u["target_groups"],
                "unit_status": u["status"], "removal_reason": u.get("removal_reason"),
                "status_note": u.get("status_note"),
            }
            subcats = {o["insats"]: o["subcategories"] for o in u["offers"]}
            rows = []
            for r in u["routes"]:
                rows.append({**base, "insats": r["insats"], "subcategories": subcats.get(r["insats"], []),
                             "route": r["route"], "agreement_id": r.get("agreement_id"),
                             "daily_price": r.get("daily_price"), "valid_from": r.get("valid_from"),
                             "valid_to": r.get("valid_to"), "buyers": r["buyers"],
                             "agreement_status": r["status"],
                             "reserved_nonprofit": r.get("reserved_nonprofit", False)})
            routed = {r["insats"] for r in u["routes"]}
            for o in u["offers"]:
                if o["insats"] not in routed:
                    rows.append({**base, "insats": o["insats"], "subcategories": o["subcategories"]})
            if not rows:
                rows.append(base)
            for row in rows:
                writer.writerow({k: _cell(row.get(k), dialect) for k in COLUMNS})
    return buf.getvalue()


class CsvDocument:
    """A document built from CSV rows, with the line of every unit, offer and route."""

    def __init__(self, file: str):
        self.file = file
        self.doc: dict = {"format": FORMAT, "suppliers": []}
        self.lines: dict[str, int] = {}  # record path → CSV line

    def locate(self, problem: Problem) -> Problem:
        """A document problem (record, field) as a CSV problem (line, column)."""
        record, fld = problem.record or "", problem.field
        line = None
        probe = record
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe.rsplit(".", 1)[0] if "." in probe else ""
        base = fld.split("[")[0] if fld else None
        if ".routes[" in record:
            column = _ROUTE_FIELD_COLUMN.get(base, base)
        elif ".offers[" in record:
            column = base
        elif ".units[" in record:
            column = _UNIT_FIELD_COLUMN.get(base, base)
        elif record.startswith("suppliers["):
            column = _SUPPLIER_FIELD_COLUMN.get(base, base)
        else:
            column = base
        return Problem(problem.message, file=self.file, line=line,
                       field=column)


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(";") if p.strip()]


def sniff_delimiter(text: str, file: str) -> str:
    """',' (plain CSV) or ';' (what Swedish Excel saves), from the header row: the one that
    splits it into known column names. Anything else is a ValidationError saying what was seen."""
    first = text.split("\n", 1)[0].rstrip("\r")
    best = None
    for delimiter in (",", ";"):
        try:
            cells = next(csv.reader([first], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        known = sum(1 for c in cells if nfc(c) in COLUMNS)
        if best is None or known > best[0]:
            best = (known, delimiter)
    if best is None or best[0] == 0:
        shown = first if len(first) <= 80 else first[:77] + "…"
        raise ValidationError(Problem(
            "cannot tell how the columns are separated: the header row is split into known column names "
            f"neither by ',' (plain CSV) nor by ';' (Excel in Swedish); the header row reads '{shown}' "
            f"(expected columns: {', '.join(COLUMNS[:4])}, …)", file=file, line=1))
    return best[1]


INTEGER_COLUMNS = ("places", "free_places", "age_min", "age_max")
_INTEGER = re.compile(r"[+-]?\d{1,30}")


def _number(value: str, column: str = "") -> Any:
    """A number cell as Excel in Swedish writes it (`12,5`, `1 250`), as the number the JSON
    document would hold: whole-number columns take digits only (issue 21: parsed strictly, so
    '1e3' or '5.0' places is refused as the JSON document refuses it); anything that is not a
    number stays text and is refused by the document's validation with file, line and column."""
    cleaned = value.replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    if not cleaned:
        return cleaned
    if _INTEGER.fullmatch(cleaned):
        return int(cleaned)
    if column in INTEGER_COLUMNS:
        return cleaned
    try:
        return float(cleaned)
    except ValueError:
        return cleaned


def _unquote_formula(value: str) -> str:
    """Undo the export's formula guard: `'=x` was written for `=x` (see cli.common)."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def read_csv(data: bytes, file: str) -> tuple[CsvDocument, list[str]]:
    """Parse CSV bytes into a document; returns it and notes for the user (e.g. Latin-1 read).

    Both dialects are read: plain (comma, decimal point) and Swedish Excel's (semicolon,
    decimal comma, SANT/FALSKT), told apart by the header row."""
    decoded = decode(data, file)
    delimiter = sniff_delimiter(decoded.text, file)
    reader = csv.reader(io.StringIO(decoded.text, newline=""), delimiter=delimiter)
    problems: list[Problem] = []
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError(Problem("the file is empty (expected a header row)", file=file, line=1)) from None
    except csv.Error as exc:
        raise ValidationError(Problem(f"not readable as CSV: {exc}", file=file, line=1)) from None
    header = [nfc(h) for h in header]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(Problem(f"missing column(s): {', '.join(missing)}", file=file, line=1))
    if unknown:
        problems.append(Problem(f"unknown column(s): {', '.join(unknown)} (columns: {', '.join(COLUMNS)})",
                                file=file, line=1))
    if dupes:
        problems.append(Problem(f"column(s) given twice: {', '.join(dupes)}", file=file, line=1))
    if problems:
        raise ValidationError(problems)

    out = CsvDocument(file)
    suppliers: dict[str, dict] = {}
    supplier_line: dict[str, tuple[int, dict]] = {}
    supplier_record: dict[str, str] = {}  # org key → "suppliers[i]"
    units: dict[str, tuple[dict, int, dict, str, str]] = {}  # unit_id → (unit, first line, raw, org key, record)

    def bad(msg: str, line: int, column: str | None) -> None:
        problems.append(Problem(msg, file=file, line=line, field=column))

    try:
        for row_cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in row_cells):
                continue
            if len(row_cells) != len(header):
                bad(f"has {len(row_cells)} cells, the header has {len(header)}", line, None)
                continue
            unreadable = [(h, bad_character(c)) for h, c in zip(header, row_cells) if bad_character(c)]
            if unreadable:
                for col, problem in unreadable:
                    bad(problem, line, col)
                continue
            raw = {h: _unquote_formula(nfc(c)) for h, c in zip(header, row_cells)}
            for col in NUMBER_COLUMNS:
                raw[col] = _number(raw[col], col)
            for col in BOOLEAN_COLUMNS:
                folded = raw[col].casefold()
                if folded in _TRUE:
                    raw[col] = True
                elif folded in _FALSE:
                    raw[col] = False
            org_raw = raw["org_nr"]
            try:
                org_key = canonical_org_nr(org_raw)
            except ValueError:
                org_key = org_raw  # reported with the line by the document validation below
            if not raw["unit_id"]:
                bad("unit_id is empty", line, "unit_id")
                continue
            if org_key not in suppliers:
                supplier = {"org_nr": org_raw, "name": raw["supplier_name"], "legal_form": raw["legal_form"],
                            "units": []}
                suppliers[org_key] = supplier
                out.doc["suppliers"].append(supplier)
                supplier_record[org_key] = f"suppliers[{len(out.doc['suppliers']) - 1}]"
                out.lines[supplier_record[org_key]] = line
                supplier_line[org_key] = (line, raw)
            else:
                first_line, first = supplier_line[org_key]
                for col in SUPPLIER_COLUMNS:
                    if raw[col] != first[col]:
                        bad(f"'{raw[col]}' differs from '{first[col]}' on line {first_line} for the same "
                            f"supplier {org_raw}", line, col)
            supplier = suppliers[org_key]
            uid = raw["unit_id"]
            if uid not in units:
                unit = {
                    "unit_id": uid, "name": raw["unit_name"], "municipality": raw["municipality"],
                    "protected_address": raw["protected_address"] or False,
                    "places": raw["places"], "free_places": raw["free_places"],
                    "age_min": raw["age_min"], "age_max": raw["age_max"],
                    "genders": _split(raw["genders"]), "target_groups": _split(raw["target_groups"]),
                    "offers": [], "routes": [], "status": raw["unit_status"],
                }
                if raw["lat"] != "" or raw["lon"] != "":
                    unit["location"] = {"lat": raw["lat"], "lon": raw["lon"]}
                for col, key in (("removal_reason", "removal_reason"), ("status_note", "status_note")):
                    if raw[col]:
                        unit[key] = raw[col]
                supplier["units"].append(unit)
                urec = f"{supplier_record[org_key]}.units[{len(supplier['units']) - 1}]"
                out.lines[urec] = line
                units[uid] = (unit, line, raw, org_key, urec)
            else:
                unit, first_line, first, first_org, urec = units[uid]
                if first_org != org_key:
                    bad(f"unit {uid} is listed under supplier {first['org_nr']} on line {first_line}",
                        line, "org_nr")
                    continue
                for col in UNIT_COLUMNS:
                    if raw[col] != first[col]:
                        bad(f"'{raw[col]}' differs from '{first[col]}' on line {first_line} for the same unit "
                            f"{uid}", line, col)
            if raw["insats"]:
                subcats = _split(raw["subcategories"])
                offer = next((o for o in unit["offers"] if o["insats"] == raw["insats"]), None)
                if offer is None:
                    unit["offers"].append({"insats": raw["insats"], "subcategories": subcats})
                    out.lines[f"{urec}.offers[{len(unit['offers']) - 1}]"] = line
                elif offer["subcategories"] != subcats:
                    bad(f"sub-categories '{raw['subcategories']}' differ from "
                        f"'{';'.join(offer['subcategories'])}' on an earlier line for insats {raw['insats']} "
                        f"of unit {uid}", line, "subcategories")
            elif raw["subcategories"]:
                bad("sub-categories given without an insats", line, "subcategories")
            if raw["route"]:
                route = {"route": raw["route"], "insats": raw["insats"], "buyers": _split(raw["buyers"]),
                         "status": raw["agreement_status"] or "active"}
                for col in ("agreement_id", "daily_price", "valid_from", "valid_to"):
                    if raw[col] != "":
                        route[col] = raw[col]
                if raw["reserved_nonprofit"]:
                    route["reserved_nonprofit"] = raw["reserved_nonprofit"]
                unit["routes"].append(route)
                out.lines[f"{urec}.routes[{len(unit['routes']) - 1}]"] = line
            else:
                for col in ROUTE_COLUMNS:
                    if raw[col] != "" and col not in ("reserved_nonprofit",):
                        bad(f"'{raw[col]}' is given but the row has no route", line, col)
                        break
    except csv.Error as exc:
        raise ValidationError(Problem(f"not readable as CSV: {exc}", file=file, line=reader.line_num)) from None
    if problems:
        raise ValidationError(problems)
    return out, decoded.notes
