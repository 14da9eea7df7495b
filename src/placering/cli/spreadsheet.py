"""Excel workbooks (.xlsx) of what a listing shows: one sheet per section, headers and labels in
the people's language (Swedish unless English is asked for), numbers as numbers and dates as dates, so a person can sort and filter them in Excel.

openpyxl is imported here only, when a workbook is written: `placering --help` stays fast.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Sequence

from ..display import safe
from ..errors import ValidationError
from .common import FORMULA_START

SHEET_NAME_MAX = 31  # Excel's limit
_BAD_SHEET_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


def xlsx_value(value: Any, kind: str | None = None) -> Any:
    """A cell's value: numbers, dates and yes/no as Excel keeps them; codes as their Swedish
    label (of `kind`), lists joined; text never taken for a formula."""
    from ..labels import label

    if value is None:
        return None
    if isinstance(value, bool):
        from ..i18n import text

        return text("cli.out.yes") if value else text("cli.out.no")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        from ..display import fmt_datetime

        return fmt_datetime(value)
    if isinstance(value, date):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(xlsx_value(v, kind)) for v in value)
    text = label(value, kind) if kind else str(value)
    text = safe(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def _sheet_title(title: str | None, key: str, used: set[str]) -> str:
    base = (title or key or "Blad").translate(_BAD_SHEET_CHARS).strip()[:SHEET_NAME_MAX] or "Blad"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[:SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def write_workbook(path: Path, sheets: Sequence[tuple[str, list[str], list[list[Any]]]],
                   properties: dict[str, str] | None = None) -> None:
    """Write sheets (title, headers, rows of values) to `path`; `properties` go in the workbook's
    custom document properties (the register revision of an export)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for title, headers, rows in sheets:
        ws = wb.create_sheet(_sheet_title(title, "Blad", used))
        ws.append(headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(row)
        ws.freeze_panes = "A2"
        for i, head in enumerate(headers, start=1):
            longest = max([len(str(head))] + [len(str(r[i - 1])) for r in rows[:200] if r[i - 1] is not None])
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(max(longest + 2, 8), 60)
    if properties:
        from openpyxl.packaging.custom import StringProperty

        for name, value in properties.items():
            wb.custom_doc_props.append(StringProperty(name=name, value=str(value)))
    try:
        _save_private(wb, path)
    except OSError as exc:
        from ..errors import os_reason
        from ..i18n import msg

        raise ValidationError(msg("file.cannot_write", file=str(path), reason=os_reason(exc))) from None


def write_sections(path: Path, sections) -> int:
    """A listing's sections as a workbook: each section a sheet, with the table's Swedish
    headers and labels (English when asked for, as the table). Returns the number of rows written."""
    from .common import column_header as header

    sheets = []
    count = 0
    for sec in sections:
        cols = list(sec.columns)
        heads = [header(c[1]) for c in cols]
        rows = [[xlsx_value(r.get(c[0]), c[2] if len(c) > 2 else None) for c in cols] for r in sec.rows]
        count += len(rows)
        sheets.append((sec.title or _section_name(sec.key), heads, rows))
    write_workbook(path, sheets)
    return count


def _section_name(key: str) -> str:
    from ..labels import label

    return label(key, "section") if key != "rows" else "Lista"


def _save_private(wb, path: Path) -> None:
    """Save a workbook only its owner can read (0600, as every export: it may hold personal
    data), replacing an existing file rather than writing into it."""
    from ..boundary import save_private

    save_private(path, wb.save, suffix=".xlsx")
