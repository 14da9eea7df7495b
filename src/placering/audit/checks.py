"""`audit checks-due`: supplier checks past their validity, never made, or not passed; and
framework agreements due for INK's systematic follow-up 12 and 30 months after their start.

How long a check of each kind stays valid is the dated parameter CHECK_VALIDITY_PARAM (a table
kind → days); its kinds are the checks every external supplier in the register needs. An
`unavailable` result (the source could not be reached) is never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..i18n import msg, reason, said
from ..text import canonical_org_nr
from ..vocabulary import CheckResult, UnitStatus
from .params import audit_param, param_table

if TYPE_CHECKING:
    from sqlmodel import Session

# SQLAlchemy and the models are imported by the functions that query through them: the pure
# steps (check_options, in_register, suppliers_of, check_rows, followup_rows) serve
# audit/reads.py too (`audit checks-due` without SQLAlchemy).

CHECK_VALIDITY_PARAM = "check_validity_days"
# Public bodies (egen regi) are not credit-checked or vetted as suppliers.
PUBLIC_LEGAL_FORMS = frozenset({"kommun", "region", "stat"})


from ..clock import add_months  # noqa: E402,F401  (the one month arithmetic; light, for the rules' facts)


@dataclass
class ChecksDueReport:
    as_of: date
    checks: list[dict[str, Any]]
    followups: list[dict[str, Any]]
    suppliers_checked: int
    validity: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "checks": self.checks, "agreement_followups": self.followups,
                "suppliers": self.suppliers_checked, "validity_days": self.validity}


def check_options(as_of: date, kind: str | None, supplier: str | None) -> tuple[dict[str, int], str | None]:
    """(validity days by check kind, narrowed to `kind`; the supplier's canonical org_nr), or
    the error naming the option."""
    validity = {str(k): int(v) for k, v in (param_table(CHECK_VALIDITY_PARAM, as_of) or {}).items()}
    if kind is not None and kind not in validity:
        raise ValidationError(msg("option.unknown_code", option="--kind", what=msg("noun.check_kind"), code=kind,
                                  known=", ".join(validity)))
    org_filter = None
    if supplier is not None:
        try:
            org_filter = canonical_org_nr(supplier)
        except ValueError as exc:
            raise ValidationError(msg("option.problem", option="--supplier", problem=reason(exc))) from None
    if kind is not None:
        validity = {kind: validity[kind]}
    return validity, org_filter


def in_register(units: dict) -> list[str]:
    """The units in the register on the date (their states from timeline.register_states)."""
    return [uid for uid, st in units.items() if st.status != UnitStatus.REMOVED.value]


def suppliers_of(info: dict, org_filter: str | None) -> dict[str, str]:
    """org_nr → name of the units' suppliers that are checked (not public bodies)."""
    suppliers: dict[str, str] = {}
    for u in info.values():
        if u.legal_form not in PUBLIC_LEGAL_FORMS and (org_filter is None or u.org_nr == org_filter):
            suppliers[u.org_nr] = u.supplier_name
    return suppliers


def check_rows(as_of: date, suppliers: dict[str, str], validity: dict[str, int],
               checks: Any) -> list[dict[str, Any]]:
    """The checks due, from every check performed up to the date as (org_nr, kind, result,
    value, performed_on) in (performed_on, id) order: the latest of a kind counts."""
    latest: dict[tuple[str, str], tuple] = {}
    for org_nr, kind, result, value, performed_on in checks:
        if org_nr in suppliers:
            latest[(org_nr, kind)] = (result, value, performed_on)
    rows: list[dict[str, Any]] = []
    for org_nr in sorted(suppliers):
        for kind, days in validity.items():
            last = latest.get((org_nr, kind))
            row = {"org_nr": org_nr, "supplier": suppliers[org_nr], "kind": kind, "validity_days": days,
                   "last_performed_on": None, "last_result": None, "value": None, "valid_until": None}
            if last is None:
                row.update(state="never", why="never made", why_said=said(msg("audit.check.never_made")))
                rows.append(row)
                continue
            result, value, performed_on = last
            until = performed_on + timedelta(days=days)
            row.update(last_performed_on=performed_on, last_result=result, value=value, valid_until=until)
            if result != CheckResult.PASS.value:
                unavailable = result == CheckResult.UNAVAILABLE.value
                why = "source unavailable: not a pass" if unavailable else "latest check failed"
                row.update(state="not_passed", why=why,
                           why_said=said(msg("audit.check.unavailable" if unavailable else "audit.check.failed")))
            elif until < as_of:
                ago = (as_of - until).days
                row.update(state="expired", why=f"valid until {until.isoformat()} ({ago} days ago)",
                           why_said=said(msg("audit.check.expired", n=ago, until=until.isoformat())))
            else:
                continue
            rows.append(row)
    order = {"not_passed": 0, "expired": 1, "never": 2}
    rows.sort(key=lambda r: (order[r["state"]], r["org_nr"], r["kind"]))
    return rows


def checks_due(session: Session, as_of: date, *, kind: str | None = None, supplier: str | None = None) -> ChecksDueReport:
    """Per supplier in the register on the date (not public bodies) and per check kind of the
    validity parameter: checks never made, expired, or whose latest result was not a pass;
    and the framework follow-ups around the date. `kind`/`supplier` narrow the check list."""
    from sqlalchemy import select

    from ..storage.models import Supplier, SupplierCheck
    from .common import load_units
    from .timeline import register_states

    validity, org_filter = check_options(as_of, kind, supplier)
    units, agreements = register_states(session, as_of)
    present = in_register(units)
    info = load_units(session, present) if present else {}
    suppliers = suppliers_of(info, org_filter)
    stmt = (
        select(Supplier.org_nr, SupplierCheck.kind, SupplierCheck.result, SupplierCheck.value,
               SupplierCheck.performed_on)
        .join(Supplier, Supplier.id == SupplierCheck.supplier_id)
        .where(SupplierCheck.performed_on <= as_of)
        .order_by(SupplierCheck.performed_on, SupplierCheck.id)
    )
    rows = check_rows(as_of, suppliers, validity, session.execute(stmt))
    return ChecksDueReport(as_of, rows, agreement_followups(session, as_of, agreements), len(suppliers), validity)


def agreement_followups(session: Session, as_of: date, agreements: dict | None = None) -> list[dict[str, Any]]:
    """Framework agreements whose 12- or 30-month follow-up falls in the window around the date.

    A follow-up recorded as done (`placering followup agreement`) is not listed; one not done
    stays listed (as `due`) for the lookback period and then drops off.
    """
    from sqlalchemy import select

    from ..storage.models import AgreementFollowup
    from .common import load_agreements
    from .timeline import register_states

    done = {(a, m) for a, m in session.execute(select(AgreementFollowup.agreement_id, AgreementFollowup.months))}
    if agreements is None:
        agreements = register_states(session, as_of)[1]
    return followup_rows(as_of, agreements, load_agreements(session), done)


def followup_rows(as_of: date, agreements: dict, infos: dict, done: set[tuple[str, int]]) -> list[dict[str, Any]]:
    """The follow-ups due around the date: `agreements` their states on the date
    (timeline.register_states), `infos` every agreement (common.load_agreements), `done` the
    (agreement_id, months) recorded as done."""
    first = int(audit_param("audit_agreement_followup_first_months", as_of).value)
    second = int(audit_param("audit_agreement_followup_second_months", as_of).value)
    back = int(audit_param("audit_agreement_followup_lookback_days", as_of).value)
    ahead = int(audit_param("audit_agreement_followup_lookahead_days", as_of).value)
    lo, hi = as_of - timedelta(days=back), as_of + timedelta(days=ahead)
    rows = []
    for aid, a in infos.items():
        if a.route != "ramavtal" or a.valid_from is None or a.valid_from > as_of:
            continue
        st = agreements.get(aid)
        status = st.status if st else "active"
        if status == "terminated":
            continue
        for months in (first, second):
            due = add_months(a.valid_from, months)
            if a.valid_to is not None and due > a.valid_to:
                continue
            if (aid, months) in done:
                continue
            if lo <= due <= hi:
                rows.append({"agreement_id": aid, "org_nr": ", ".join(a.org_nrs),
                             "supplier": ", ".join(a.supplier_names), "insatser": a.insatser,
                             "valid_from": a.valid_from, "valid_to": a.valid_to, "followup": f"{months} months",
                             "due_on": due, "state": "due" if due <= as_of else "upcoming",
                             "agreement_status": status})
    rows.sort(key=lambda r: (r["due_on"], r["agreement_id"]))
    return rows
