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

An export carries the register revision it was taken at, in a last column `revision` (the same
on every row): importing it after later changes to the same records is refused with the
conflicts, as for the interchange JSON. A file without the column (made by hand) is not checked.
`free_places` is never imported over the register: places are taken and given back by
placements, so an existing unit's free places follow its placements (and a change of `places`).

Two forms: for programs (codes as headers and cells, comma, decimal point) and for people
(`--excel` and `--xlsx`: Swedish headers and labels, locale/sv/LC_MESSAGES/labels.po `register_column`);
import takes either, and labels or codes in every cell that holds a code.

Encoding: UTF-8, with or without a byte-order mark; otherwise the encoding is detected
(charset-normalizer, among the single-byte encodings Swedish spreadsheets save: Windows-1252,
what Swedish Excel's "CSV (semikolonavgränsad)" is, Latin-1 and Latin-9), and said. A file in
none of them is rejected with the offset and line of the first byte that is not UTF-8.
"""

from __future__ import annotations

import csv
import re
import io
from dataclasses import dataclass, field
from typing import Any

from ..boundary import bad_character
from ..errors import Problem, ValidationError
from ..i18n import msg, reason
from ..text import canonical_org_nr, nfc
from .canonical import FORMAT

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
REVISION_COLUMN = "revision"  # optional, last: the register revision of an export
# Optional, before the revision: the day a route's price was last confirmed as current (004 l.
# 1202-1203). An export has it when any route has such a day; a file without it gives none.
PRICE_CONFIRMED_COLUMN = "price_confirmed_on"
# Which label kind a column's codes are (a person's file holds labels; import maps them back).
COLUMN_KIND = {"legal_form": "legal_form", "genders": "gender", "target_groups": "target_group",
               "unit_status": "unit_status", "removal_reason": "removal_reason", "insats": "insats",
               "subcategories": "subcategory", "route": "route", "agreement_status": "agreement_status"}
LIST_COLUMNS = ("genders", "target_groups", "subcategories", "buyers")
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
    notes: list = field(default_factory=list)  # Messages: how the file was read


# The encodings a spreadsheet in Sweden saves text in, besides UTF-8 (Python's names).
SINGLE_BYTE = ("cp1252", "latin_1", "iso8859_15")
ENCODING_NAMES = {"cp1252": "Windows-1252", "latin_1": "Latin-1 (ISO 8859-1)", "iso8859_15": "Latin-9 (ISO 8859-15)"}


def decode(data: bytes, file: str) -> DecodedText:
    """UTF-8 (BOM or not), else the single-byte encoding charset-normalizer finds most likely
    among those Swedish spreadsheets save (Windows-1252 first), said in a note; else a
    ValidationError saying where the text stops being UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        bom = True
    else:
        bom = False
    try:
        return DecodedText(data.decode("utf-8"), "utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    first = utf8_error.start
    line = data.count(b"\n", 0, first) + 1
    encoding = _detect_single_byte(data)
    if encoding is None:
        raise ValidationError(Problem(msg("csv.encoding_unknown", byte=f"0x{data[first]:02X}", offset=first),
                                      file=file, line=line))
    name = ENCODING_NAMES[encoding]
    return DecodedText(
        data.decode(encoding), encoding,
        [msg("csv.read_as_detected", file=file, byte=f"0x{data[first]:02X}", offset=first, line=line, encoding=name)])


def _detect_single_byte(data: bytes) -> str | None:
    """The encoding of text that is not UTF-8: charset-normalizer's best guess among
    SINGLE_BYTE; Windows-1252 when it cannot tell them apart (it decodes the same letters and
    also Excel's dashes and quotes); None when no such encoding reads the bytes."""
    readable = []
    # Latin-1 and Latin-9 read 0x80–0x9F as control characters: text never holds those.
    c1 = any(0x80 <= b <= 0x9F for b in data)
    for enc in SINGLE_BYTE:
        if c1 and enc != "cp1252":
            continue
        try:
            data.decode(enc)
        except UnicodeDecodeError:
            continue
        readable.append(enc)
    if not readable:
        return None
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data, cp_isolation=list(readable)).best()
    except Exception:  # noqa: BLE001 - a detector failing is no reason to refuse a readable file
        best = None
    if best is not None:
        found = best.encoding.replace("-", "_").lower()
        for enc in readable:
            if found in (enc, {"latin_1": "iso8859_1"}.get(enc)):
                # Latin-1 and Windows-1252 agree on every letter; 0x80–0x9F are only Windows-1252's.
                return "cp1252" if enc == "latin_1" and "cp1252" in readable else enc
    return readable[0]


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
    (comma, UTF-8, decimal point, codes) or excel (semicolon, UTF-8 with BOM, decimal comma,
    Swedish headers and labels); both end with the register revision."""
    buf = io.StringIO()
    people = dialect == "excel"
    if people:
        buf.write("\ufeff")
    writer = csv.writer(buf, delimiter=DIALECTS[dialect], lineterminator="\r\n" if people else "\n")
    columns = [*COLUMNS, *_optional_columns(doc), REVISION_COLUMN]
    writer.writerow([column_header(c) for c in columns] if people else columns)
    for row in unit_rows(doc):
        writer.writerow([_cell(_person_value(k, row.get(k)) if people else row.get(k), dialect) for k in columns])
    return buf.getvalue()


def _optional_columns(doc: dict) -> list[str]:
    confirmed = any(r.get("price_confirmed_on") for s in doc.get("suppliers") or [] for u in s.get("units") or []
                    for r in u.get("routes") or [])
    return [PRICE_CONFIRMED_COLUMN] if confirmed else []


def column_header(column: str) -> str:
    from ..labels import label

    return label(column, "register_column", "sv")  # files for Swedish Excel: Swedish whatever the locale


def _person_value(column: str, value):
    """A cell as a person reads it: labels for codes, ja/nej for yes/no."""
    from ..labels import label

    if isinstance(value, bool):
        return "ja" if value else "nej"
    kind = COLUMN_KIND.get(column)
    if kind is None or value is None:
        return value
    if isinstance(value, list):
        return [label(v, kind, "sv") for v in value]
    return label(value, kind, "sv")


def export_xlsx(doc: dict, path) -> int:
    """The unit rows as an Excel workbook for people (Swedish headers and labels, numbers as
    numbers), the register revision in a column and in the workbook's properties. Returns
    the number of rows."""
    from ..cli.spreadsheet import write_workbook

    columns = [*COLUMNS, *_optional_columns(doc), REVISION_COLUMN]
    rows = []
    for row in unit_rows(doc):
        cells = []
        for k in columns:
            v = _person_value(k, row.get(k))
            if isinstance(v, list):
                v = ";".join(str(x) for x in v)
            elif isinstance(v, str) and v.startswith(("=", "+", "-", "@")):
                v = "'" + v
            cells.append(v)
        rows.append(cells)
    props = {"placering_register_revision": doc.get("revision")} if doc.get("revision") is not None else None
    write_workbook(path, [("Enheter", [column_header(c) for c in columns], rows)], props)
    return len(rows)


def unit_rows(doc: dict):
    """One dict per CSV row (codes and plain values), in the document's order."""
    revision = doc.get("revision")
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
                "status_note": u.get("status_note"), REVISION_COLUMN: revision,
            }
            subcats = {o["insats"]: o["subcategories"] for o in u["offers"]}
            rows = []
            for r in u["routes"]:
                rows.append({**base, "insats": r["insats"], "subcategories": subcats.get(r["insats"], []),
                             "route": r["route"], "agreement_id": r.get("agreement_id"),
                             "daily_price": r.get("daily_price"), "valid_from": r.get("valid_from"),
                             "valid_to": r.get("valid_to"), "buyers": r["buyers"],
                             "agreement_status": r["status"],
                             "reserved_nonprofit": r.get("reserved_nonprofit", False),
                             PRICE_CONFIRMED_COLUMN: r.get("price_confirmed_on")})
            routed = {r["insats"] for r in u["routes"]}
            for o in u["offers"]:
                if o["insats"] not in routed:
                    rows.append({**base, "insats": o["insats"], "subcategories": o["subcategories"]})
            if not rows:
                rows.append(base)
            yield from rows


class CsvDocument:
    """A document built from CSV rows, with the line of every unit, offer and route."""

    def __init__(self, file: str):
        self.file = file
        self.doc: dict = {"format": FORMAT, "suppliers": []}
        self.lines: dict[str, int] = {}  # record path → CSV line
        self.people = False  # the file's headers are the Swedish ones: problems name those

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
        if self.people and column in COLUMNS:
            column = column_header(column)
        return Problem(problem.message, file=self.file, line=line, field=column)


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
        known = sum(1 for c in cells if column_of(c) is not None)
        if best is None or known > best[0]:
            best = (known, delimiter)
    if best is None or best[0] == 0:
        shown = first if len(first) <= 80 else first[:77] + "…"
        raise ValidationError(Problem(msg("csv.separator_unknown", header=shown, columns=", ".join(COLUMNS[:4])),
                                      file=file, line=1))
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


def column_of(cell: str) -> str | None:
    """The column a header cell names: its code (`unit_status`) or its Swedish header
    (`Status`), in any case; None when it names none."""
    from ..labels import code_for

    text = nfc(cell).strip()
    if text in COLUMNS or text in (REVISION_COLUMN, PRICE_CONFIRMED_COLUMN):
        return text
    return code_for(text, "register_column")


def _code_cell(column: str, value: str) -> str:
    """A cell of a code column in its code, when a person's file holds the Swedish label
    (`Publicerad` → `published`); lists item by item. Anything else stays for validation."""
    from ..labels import code_for

    kind = COLUMN_KIND.get(column)
    if kind is None or not value:
        return value
    if column in LIST_COLUMNS:
        return ";".join(code_for(v, kind) or v for v in _split(value))
    return code_for(value, kind) or value


def read_csv(data: bytes, file: str) -> tuple[CsvDocument, list[str]]:
    """Parse CSV bytes into a document; returns it and notes for the user (e.g. the encoding
    detected).

    Both dialects are read: plain (comma, decimal point) and Swedish Excel's (semicolon,
    decimal comma, SANT/FALSKT), told apart by the header row."""
    decoded = decode(data, file)
    delimiter = sniff_delimiter(decoded.text, file)
    reader = csv.reader(io.StringIO(decoded.text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError(Problem(msg("csv.empty"), file=file, line=1)) from None
    except csv.Error as exc:
        raise ValidationError(Problem(msg("csv.unreadable", error=str(exc)), file=file, line=1)) from None

    def rows():
        try:
            for cells in reader:
                yield reader.line_num, cells
        except csv.Error as exc:
            raise ValidationError(Problem(msg("csv.unreadable", error=str(exc)), file=file, line=reader.line_num)) from None

    return read_rows(header, rows(), file), decoded.notes


def read_xlsx(data: bytes, file: str) -> tuple[CsvDocument, list[str]]:
    """An Excel workbook (.xlsx) of unit rows, as `register export --xlsx` writes it (its
    first sheet; headers in Swedish or codes), read as the CSV is."""
    import zipfile

    try:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValidationError(Problem(msg("xlsx.unreadable", error=str(exc)), file=file)) from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    try:
        header = [_xlsx_text(v) for v in next(it)]
    except StopIteration:
        raise ValidationError(Problem(msg("csv.empty"), file=file, line=1)) from None
    while header and header[-1] == "":
        header.pop()

    def rows():
        for n, values in enumerate(it, start=2):
            cells = [_xlsx_text(v) for v in values][:len(header)]
            yield n, cells + [""] * (len(header) - len(cells))

    doc = read_rows(header, rows(), file)
    wb.close()
    return doc, [msg("csv.read_as_xlsx", file=file, sheet=ws.title)]


def _xlsx_text(value) -> str:
    """A workbook cell as the CSV would hold it."""
    from datetime import date, datetime

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def read_rows(header_cells: list[str], rows, file: str) -> CsvDocument:
    """Unit rows (header, then (line, cells)) into a document; every problem with its line
    and column."""
    problems: list[Problem] = []
    header = [column_of(h) or nfc(h) for h in header_cells]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS and c not in (REVISION_COLUMN, PRICE_CONFIRMED_COLUMN)]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(Problem(msg("csv.columns_missing", n=len(missing), columns=", ".join(missing)), file=file, line=1))
    if unknown:
        problems.append(Problem(msg("csv.columns_unknown", n=len(unknown), columns=", ".join(unknown),
                                    known=", ".join(COLUMNS)), file=file, line=1))
    if dupes:
        problems.append(Problem(msg("csv.columns_twice", n=len(dupes), columns=", ".join(dupes)), file=file, line=1))
    if problems:
        raise ValidationError(problems)

    out = CsvDocument(file)
    out.people = any(column_of(h) in COLUMNS and nfc(h).strip() not in COLUMNS for h in header_cells)
    suppliers: dict[str, dict] = {}
    supplier_line: dict[str, tuple[int, dict]] = {}
    supplier_record: dict[str, str] = {}  # org key → "suppliers[i]"
    units: dict[str, tuple[dict, int, dict, str, str]] = {}  # unit_id → (unit, first line, raw, org key, record)

    def bad(said, line: int, column: str | None) -> None:
        problems.append(Problem(said, file=file, line=line, field=column))

    revisions: dict[str, int] = {}  # revision → first line
    for line, row_cells in rows:
        if not any(c.strip() for c in row_cells):
            continue
        if len(row_cells) != len(header):
            bad(msg("csv.cells_count", n=len(row_cells), header=len(header)), line, None)
            continue
        unreadable = [(h, bad_character(c)) for h, c in zip(header, row_cells) if bad_character(c)]
        if unreadable:
            for col, problem in unreadable:
                bad(problem, line, col)
            continue
        raw = {h: _unquote_formula(nfc(c)) for h, c in zip(header, row_cells)}
        revision = raw.pop(REVISION_COLUMN, "").strip()
        if revision:
            revisions.setdefault(revision, line)
        for col in COLUMN_KIND:
            raw[col] = _code_cell(col, raw[col])
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
            bad(msg("csv.unit_id_empty"), line, "unit_id")
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
                    bad(msg("csv.differs_supplier", value=raw[col], first=first[col], line=first_line, org=org_raw),
                        line, col)
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
                bad(msg("csv.unit_other_supplier", unit=uid, org=first['org_nr'], line=first_line), line, "org_nr")
                continue
            for col in UNIT_COLUMNS:
                if raw[col] != first[col]:
                    bad(msg("csv.differs_unit", value=raw[col], first=first[col], line=first_line, unit=uid), line, col)
        if raw["insats"]:
            subcats = _split(raw["subcategories"])
            offer = next((o for o in unit["offers"] if o["insats"] == raw["insats"]), None)
            if offer is None:
                unit["offers"].append({"insats": raw["insats"], "subcategories": subcats})
                out.lines[f"{urec}.offers[{len(unit['offers']) - 1}]"] = line
            elif offer["subcategories"] != subcats:
                bad(msg("csv.subcategories_differ", value=raw['subcategories'], first=";".join(offer['subcategories']),
                        insats=raw['insats'], unit=uid), line, "subcategories")
        elif raw["subcategories"]:
            bad(msg("csv.subcategories_without_insats"), line, "subcategories")
        if raw["route"]:
            route = {"route": raw["route"], "insats": raw["insats"], "buyers": _split(raw["buyers"]),
                     "status": raw["agreement_status"] or "active"}
            for col in ("agreement_id", "daily_price", "valid_from", "valid_to"):
                if raw[col] != "":
                    route[col] = raw[col]
            if raw.get(PRICE_CONFIRMED_COLUMN, "").strip():
                route["price_confirmed_on"] = raw[PRICE_CONFIRMED_COLUMN].strip()
            if raw["reserved_nonprofit"]:
                route["reserved_nonprofit"] = raw["reserved_nonprofit"]
            unit["routes"].append(route)
            out.lines[f"{urec}.routes[{len(unit['routes']) - 1}]"] = line
        else:
            for col in (*ROUTE_COLUMNS, PRICE_CONFIRMED_COLUMN):
                if raw.get(col, "") != "" and col not in ("reserved_nonprofit",):
                    bad(msg("csv.without_route", value=raw[col]), line, col)
                    break
    if len(revisions) > 1:
        (a, la), (b, lb) = list(revisions.items())[:2]
        problems.append(Problem(msg("csv.revisions_differ", a=a, line_a=la, b=b, line_b=lb),
                                file=file, line=lb, field=REVISION_COLUMN))
    elif revisions:
        (value, line), = revisions.items()
        try:
            out.doc["revision"] = int(_number(value, "places"))
        except ValueError:
            problems.append(Problem(msg("csv.revision_not_number", value=value), file=file, line=line,
                                    field=REVISION_COLUMN))
    if problems:
        raise ValidationError(problems)
    return out
