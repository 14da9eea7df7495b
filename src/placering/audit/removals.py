"""`audit removals`: the report from the year's removals (Nordost 2022's table), without the
database: audit.yearly.removals (the ORM) and audit/reads.py (the database's own driver) read
the history entries and the units' attributes, and both build the report here."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

NO_REASON = "(no reason recorded)"


@dataclass
class RemovalsReport:
    year: int
    insatser: list[str]  # columns
    rows: list[dict[str, Any]]  # one per reason, then the total row
    total: int
    removals: list[dict[str, Any]]  # each removal, for the CSV/JSON reader who wants detail

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "insatser": self.insatser, "total": self.total, "table": self.rows,
                "removals": self.removals}


def is_removal(changes: dict | None) -> bool:
    """Whether a unit's `status` or `updated` entry removed it (status → removed)."""
    change = (changes or {}).get("status")
    return isinstance(change, list) and len(change) == 2 and change[1] == "removed" and change[0] != "removed"


def removal_table(year: int, found: Iterable[Any], info: dict) -> RemovalsReport:
    """The report from the year's removals (entries with effective_on, entity_id, reason, actor,
    note, rule_id, in (effective_on, id) order) and their units' attributes (common.load_units)."""
    from ..labels import label
    from ..taxonomy import load_taxonomy
    from ..vocabulary import RemovalReason

    tax = load_taxonomy()
    reasons = [r.value for r in RemovalReason]
    counts: dict[str, Counter] = defaultdict(Counter)
    detail = []
    for row in found:
        reason = row.reason or NO_REASON
        if reason not in reasons:
            reasons.append(reason)
        unit = info.get(row.entity_id)
        insatser = unit.insatser if unit else []
        counts[reason]["total"] += 1
        for code in insatser:
            counts[reason][code] += 1
        detail.append({
            "unit_id": row.entity_id, "name": unit.name if unit else "", "org_nr": unit.org_nr if unit else "",
            "effective_on": row.effective_on, "reason": reason, "insatser": insatser, "actor": row.actor,
            "rule_id": row.rule_id, "note": row.note,
        })
    columns = [code for code in tax.insatser if any(counts[r][code] for r in counts)]
    rows = []
    total_row: dict[str, Any] = {"reason": "total", "reason_label": "Totalsumma"}
    for reason in reasons:
        c = counts.get(reason, Counter())
        row = {"reason": reason, "reason_label": label(reason)}
        for code in columns:
            row[code] = c[code]
            total_row[code] = total_row.get(code, 0) + c[code]
        row["total"] = c["total"]
        rows.append(row)
    total = sum(c["total"] for c in counts.values())
    total_row["total"] = total
    for code in columns:
        total_row.setdefault(code, 0)
    rows.append(total_row)
    return RemovalsReport(year, columns, rows, total, detail)
