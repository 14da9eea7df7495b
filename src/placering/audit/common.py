"""What the audits share: input checks (dates, years, codes) and loading register attributes
(names, offers, routes) for the units an audit reports on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Iterable

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..errors import ValidationError
from ..i18n import msg
from ..taxonomy import load_taxonomy
from ..text import fold
from ..vocabulary import AgreementStatus, Route, UnitStatus

FIRST_YEAR = 2000  # the register's history does not reach further back
BULK_THRESHOLD = 2000  # above this many ids, read whole tables instead of IN-lists

if TYPE_CHECKING:
    from sqlmodel import Session

# SQLAlchemy and the models are imported by the loaders that query through them: the checks and
# the info classes serve audit/reads.py too (reads without SQLAlchemy).


def check_year(year: int, option: str = "--year") -> int:
    last = sweden_today().year
    if not FIRST_YEAR <= year <= last:
        raise ValidationError(msg("audit.year_out_of_range", option=option, year=year, first=FIRST_YEAR, last=last))
    return year


def check_insats(code: str | None, option: str = "--insats") -> str | None:
    if code is None:
        return None
    tax = load_taxonomy()
    if code not in tax.insatser:
        raise ValidationError(msg("option.unknown_code", option=option, what=msg("noun.insats"), code=code,
                                  known=", ".join(sorted(tax.insatser))))
    return code


def check_route(code: str | None, option: str = "--route") -> str | None:
    if code is None:
        return None
    known = [r.value for r in Route]
    if code not in known:
        raise ValidationError(msg("option.unknown_code", option=option, what=msg("noun.route"), code=code,
                                  known=", ".join(known)))
    return code


def check_status(code: str | None, option: str = "--status") -> str | None:
    if code is None:
        return None
    known = [s.value for s in UnitStatus] + [s.value for s in AgreementStatus if s.value != "active"]
    if code not in known:
        raise ValidationError(msg("option.unknown_code", option=option, what=msg("noun.status"), code=code,
                                  known=", ".join(known)))
    return code


def check_municipality(session: Session, name: str | None, option: str = "--municipality") -> str | None:
    """The folded key of a municipality the taxonomy or some unit knows; anything else is an error."""
    if name is None:
        return None
    key = fold(name)
    if load_taxonomy().municipality(name) is None:
        from sqlalchemy import select

        from ..storage.models import Unit

        found = session.execute(select(Unit.id).where(Unit.municipality_key == key).limit(1)).first()
        if found is None:
            raise ValidationError(msg("option.unknown_municipality", option=option, name=name))
    return key


@dataclass
class UnitInfo:
    """The register attributes an audit prints next to a unit (current values: these are the
    unit's identity and offer, not its status, which always comes from history)."""

    unit_id: str
    name: str
    municipality: str
    municipality_key: str
    org_nr: str
    supplier_name: str
    legal_form: str
    insatser: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)  # "route:insats"
    agreements: list[str] = field(default_factory=list)


def load_units(session: Session, unit_ids: Iterable[str] | None = None, *, routes: bool = True) -> dict[str, UnitInfo]:
    """Attributes of the given units (all units when None), in a few queries; `routes=False`
    skips routes and agreements when the caller does not need them."""
    from sqlalchemy import select

    from ..storage.database import chunks
    from ..storage.models import Offer, Supplier, Unit, UnitRoute

    out: dict[str, UnitInfo] = {}
    pk: dict[int, UnitInfo] = {}
    wanted = None if unit_ids is None else set(unit_ids)
    if wanted is not None and len(wanted) > BULK_THRESHOLD:
        # Many units: one scan of the tables beats dozens of IN-lists.
        everything = load_units(session, None, routes=routes)
        return {uid: info for uid, info in everything.items() if uid in wanted}
    base = select(
        Unit.id, Unit.unit_id, Unit.name, Unit.municipality, Unit.municipality_key,
        Supplier.org_nr, Supplier.name, Supplier.legal_form,
    ).join(Supplier, Supplier.id == Unit.supplier_id)
    conn = session.connection()
    batches = [None] if wanted is None else list(chunks(sorted(wanted)))
    for batch in batches:
        stmt = base if batch is None else base.where(Unit.unit_id.in_(batch))
        for row in conn.execute(stmt).all():
            info = UnitInfo(row[1], row[2], row[3], row[4], row[5], row[6], row[7])
            out[info.unit_id] = info
            pk[row[0]] = info
    for batch in ([None] if wanted is None else list(chunks(sorted(pk)))):
        o_stmt = select(Offer.unit_id, Offer.insats).order_by(Offer.unit_id, Offer.position)
        r_stmt = select(UnitRoute.unit_id, UnitRoute.route, UnitRoute.insats, UnitRoute.agreement_id).order_by(
            UnitRoute.unit_id, UnitRoute.position
        )
        if batch is not None:
            o_stmt = o_stmt.where(Offer.unit_id.in_(batch))
            r_stmt = r_stmt.where(UnitRoute.unit_id.in_(batch))
        for unit_pk, insats in conn.execute(o_stmt).all():
            if unit_pk in pk:
                pk[unit_pk].insatser.append(insats)
        for unit_pk, route, insats, agreement_id in (conn.execute(r_stmt).all() if routes else ()):
            if unit_pk in pk:
                info = pk[unit_pk]
                info.routes.append(f"{route}:{insats}")
                if agreement_id and agreement_id not in info.agreements:
                    info.agreements.append(agreement_id)
    return out


@dataclass
class AgreementInfo:
    """A framework agreement (ramavtal) as its routes describe it."""

    agreement_id: str
    insatser: list[str] = field(default_factory=list)
    unit_ids: list[str] = field(default_factory=list)
    org_nrs: list[str] = field(default_factory=list)
    supplier_names: list[str] = field(default_factory=list)
    municipality_keys: list[str] = field(default_factory=list)
    valid_from: date | None = None
    valid_to: date | None = None
    route: str = "ramavtal"
    names: dict[str, str] = field(default_factory=dict)  # org_nr → supplier name
    units_by_org: dict[str, list[str]] = field(default_factory=dict)

    def units_of(self, org_nr: str) -> list[str]:
        return list(self.units_by_org.get(org_nr, []))


def load_agreements(session: Session, agreement_ids: Iterable[str] | None = None) -> dict[str, AgreementInfo]:
    from sqlalchemy import select

    from ..storage.database import chunks
    from ..storage.models import Supplier, Unit, UnitRoute

    out: dict[str, AgreementInfo] = {}
    stmt = (
        select(
            UnitRoute.agreement_id, UnitRoute.insats, UnitRoute.valid_from, UnitRoute.valid_to, UnitRoute.route,
            Unit.unit_id, Unit.municipality_key, Supplier.org_nr, Supplier.name,
        )
        .join(Unit, Unit.id == UnitRoute.unit_id)
        .join(Supplier, Supplier.id == Unit.supplier_id)
        .where(UnitRoute.agreement_id.is_not(None))
        .order_by(UnitRoute.agreement_id, Unit.unit_id)
    )
    batches = [None] if agreement_ids is None else list(chunks(sorted(set(agreement_ids))))
    for batch in batches:
        s = stmt if batch is None else stmt.where(UnitRoute.agreement_id.in_(batch))
        for row in session.execute(s):
            add_agreement_route(out, *row)
    return out


def add_agreement_route(out: dict[str, AgreementInfo], aid: str, insats: str, vfrom: date | None,
                        vto: date | None, route: str, unit_id: str, mkey: str, org_nr: str, sname: str) -> None:
    """Fold one route of an agreement (one supplier's unit) into its AgreementInfo: the ORM
    loader above and audit/reads.py (without SQLAlchemy) read the same rows."""
    info = out.get(aid)
    if info is None:
        info = out[aid] = AgreementInfo(aid, valid_from=vfrom, valid_to=vto, route=route)
    info.names[org_nr] = sname
    mine = info.units_by_org.setdefault(org_nr, [])
    if unit_id not in mine:
        mine.append(unit_id)
    for lst, val in ((info.insatser, insats), (info.unit_ids, unit_id), (info.org_nrs, org_nr),
                     (info.supplier_names, sname), (info.municipality_keys, mkey)):
        if val not in lst:
            lst.append(val)
    if vfrom and (info.valid_from is None or vfrom < info.valid_from):
        info.valid_from = vfrom
    if vto and (info.valid_to is None or vto > info.valid_to):
        info.valid_to = vto
