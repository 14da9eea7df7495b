"""A list as a page table, a real Excel workbook (.xlsx, openpyxl) and a CSV file: the same rows
and Swedish headers and labels in all three. Codes become their Swedish labels, dates stay dates
and numbers stay numbers in the workbook; a cell a spreadsheet would read as a formula gets a
leading apostrophe (OWASP CSV injection), in the CSV and in the workbook alike."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable

from starlette.responses import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Column:
    key: str
    header: str
    kind: str | None = None  # label kind of a code (or a list of codes)
    numeric: bool = False
    money: bool = False
    percent: bool = False  # a share 0..1
    link: str | None = None  # key of the row's URL for the page table


@dataclass
class Listing:
    name: str  # file and sheet name (ASCII)
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    empty: str = "Inga rader."

    def value(self, row: dict[str, Any], col: Column) -> Any:
        """The cell's value for a workbook: labels for codes, numbers and dates as they are."""
        from ..labels import label

        v = row.get(col.key)
        if v is None:
            return None
        if col.kind:
            if isinstance(v, (list, tuple, set)):
                return ", ".join(label(x, col.kind) for x in v)
            return label(v, col.kind)
        if isinstance(v, (list, tuple, set)):
            return ", ".join(str(x) for x in v)
        if isinstance(v, bool):
            return "ja" if v else "nej"
        return v

    def text(self, row: dict[str, Any], col: Column) -> str:
        """The cell as a person reads it on the page: Swedish numbers, dates, kronor."""
        from ..display import fmt_date, fmt_money, fmt_number, fmt_percent

        v = self.value(row, col)
        if v is None or v == "":
            return "–"
        if col.money and isinstance(v, (int, float)):
            return fmt_money(v)
        if col.percent and isinstance(v, (int, float)):
            return fmt_percent(v, 1)
        if isinstance(v, (int, float)):
            return fmt_number(v)
        if isinstance(v, (date, datetime)):
            return fmt_date(v)
        return str(v)

    def table(self) -> dict[str, Any]:
        return {"title": self.title, "name": self.name, "empty": self.empty,
                "headers": [(c.header, c.numeric or c.money or c.percent) for c in self.columns],
                "rows": [[(self.text(r, c), c.numeric or c.money or c.percent, r.get(c.link) if c.link else None)
                          for c in self.columns] for r in self.rows]}


def _guard(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(listing: Listing) -> bytes:
    """Semicolon-separated UTF-8 with a byte-order mark and decimal commas: what Swedish Excel opens."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow([c.header for c in listing.columns])
    for r in listing.rows:
        cells = []
        for c in listing.columns:
            v = listing.value(r, c)
            if isinstance(v, float):
                v = f"{v:.4f}".rstrip("0").rstrip(".").replace(".", ",")
            elif isinstance(v, (date, datetime)):
                v = v.isoformat()
            cells.append("" if v is None else _guard(str(v)))
        w.writerow(cells)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(listings: Iterable[Listing]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for listing in listings:
        ws = wb.create_sheet(listing.name[:31])
        ws.append([c.header for c in listing.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        widths = [len(c.header) for c in listing.columns]
        for r in listing.rows:
            row = []
            for i, c in enumerate(listing.columns):
                v = listing.value(r, c)
                if isinstance(v, datetime) and v.tzinfo is not None:
                    from ..display import local_time

                    v = local_time(v).replace(tzinfo=None)
                v = _guard(v)
                row.append(v)
                widths[i] = max(widths[i], min(60, len(str(v)) if v is not None else 0))
            ws.append(row)
            for i, c in enumerate(listing.columns):
                cell = ws.cell(row=ws.max_row, column=i + 1)
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula
                elif isinstance(cell.value, (date, datetime)):
                    cell.number_format = "yyyy-mm-dd"
                elif c.money:
                    cell.number_format = "#,##0 \"kr\""
                elif c.percent:
                    cell.number_format = "0.0%"
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w + 2
        ws.freeze_panes = "A2"
    if not wb.sheetnames:
        wb.create_sheet("tom")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def download(listings: list[Listing], fmt: str, stem: str, which: str | None = None) -> Response:
    from .render import secure

    if fmt == "xlsx":
        body = to_xlsx(listings)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        filename = f"{stem}.xlsx"
    else:
        chosen = next((x for x in listings if x.name == which), listings[0])
        body = to_csv(chosen)
        media = "text/csv; charset=utf-8"
        filename = f"{stem}-{chosen.name}.csv"
    response = Response(body, media_type=media)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return secure(response)
