"""`placering init --demo`: the demo register with its history, written through the register's
library functions in one transaction."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ..display import today
from .generator import DEMO_SEED, DEMO_UNITS, generate_register
from .history import load_history
from .placements import load_placements


def load_demo(engine, *, actor: str, as_of: date | None = None, seed: int = DEMO_SEED,
              units: int = DEMO_UNITS) -> dict:
    """Load the demo register as it stands on `as_of` (default: today in Sweden) with the years
    of history before it. Loading it into a register that already holds it changes nothing."""
    from ..memory import gc_paused

    # The demo makes hundreds of thousands of short-lived objects and no reference cycles worth
    # collecting: the collector's scans of the growing heap were a fifth of its time.
    with gc_paused():
        return _load_demo(engine, actor=actor, as_of=as_of, seed=seed, units=units)


def _load_demo(engine, *, actor: str, as_of: date | None, seed: int, units: int) -> dict:
    from ..storage import transaction
    from ..storage.models import Supplier

    as_of = as_of or today()
    doc = generate_register(units, seed=seed, as_of=as_of)
    org_nrs = [s["org_nr"] for s in doc["suppliers"]]
    summary = {"as_of": as_of.isoformat(), "suppliers": len(doc["suppliers"]),
               "units": sum(len(s["units"]) for s in doc["suppliers"]), "units_created": 0, "history_entries": 0}
    with transaction(engine) as session:
        present = session.scalars(select(Supplier.org_nr).where(Supplier.org_nr.in_(org_nrs[:50]))).first()
        if present is not None:
            return summary  # already loaded: a second load writes nothing
        summary.update(load_history(session, doc, as_of=as_of, seed=seed, actor=actor))
    # Placements are decided on the committed register (the matcher reads its stored snapshot).
    summary.update(load_placements(engine, as_of=as_of, seed=seed, actor=actor))
    return summary
