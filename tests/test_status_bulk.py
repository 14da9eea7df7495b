"""Many status changes in one call (`change_unit_statuses`, used by the import's --apply-status
and the demo's past) store exactly what the same changes made one by one through
`change_unit_status` store: the units' statuses, the history entries in the same order, and the
same refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from placering.errors import PlaceringError
from placering.register.service import change_unit_status, change_unit_statuses, import_document
from placering.storage import transaction
from placering.storage.models import History, Unit
from test_register_import import sample_document

# In order: a pause and its end on the same unit, changes refused for every reason the register
# has (already so, a reason without removal, a removal without note, a recommendation stop
# without direct procurement, a removed unit's change, a change dated before the current status,
# an unknown unit, a unit id typed in lower case), and a removal with its reason and note.
CHANGES = [
    dict(unit_id="U-1001", status="watch", note="Kreditbetyget sjönk", effective_on=date(2025, 3, 1)),
    dict(unit_id="U-1001", status="published", note="Åtgärdat", effective_on=date(2025, 4, 1)),
    dict(unit_id="U-1001", status="published", effective_on=date(2025, 4, 2)),
    dict(unit_id="U-3001", status="unpublished", reason="ekonomiska_brister", effective_on=date(2025, 4, 2)),
    dict(unit_id="U-3001", status="removed", reason="ekonomiska_brister", effective_on=date(2025, 4, 2)),
    dict(unit_id="U-2001", status="recommendation_stop", effective_on=date(2025, 4, 2)),
    dict(unit_id="U-2002", status="published", effective_on=date(2025, 4, 2)),
    dict(unit_id="U-1002", status="published", effective_on=date(2000, 1, 1)),
    dict(unit_id="U-9999", status="watch"),
    dict(unit_id="u-1002", status="watch", note="Följs upp", effective_on=date(2025, 5, 1), source="import x"),
    dict(unit_id="U-3001", status="removed", reason="ekonomiska_brister", note="Samlad bedömning",
         effective_on=date(2025, 6, 1)),
]


def _stored(session) -> tuple[list, list]:
    units = sorted((u.unit_id, u.status, u.removal_reason, u.status_note) for u in session.scalars(select(Unit)))
    history = [(h.entity_kind, h.entity_id, h.action, h.effective_on, h.changes, h.org_nr, h.unit_id, h.reason,
                h.note, h.rule_id, h.actor) for h in session.scalars(select(History).order_by(History.id))]
    return units, history


def test_many_status_changes_store_what_one_by_one_stores(engine):
    with transaction(engine) as session:
        import_document(session, sample_document(), actor="test", apply_status=True, effective_on=date(2025, 1, 1))

    one_by_one: list = []
    with transaction(engine) as session:
        for change in CHANGES:
            try:
                entry = change_unit_status(session, actor="handläggare", **change)
                one_by_one.append(("made", entry.entity_id, entry.changes, entry.effective_on))
            except PlaceringError as exc:
                one_by_one.append(("refused", type(exc).__name__, str(exc)))
        single = _stored(session)
        session.rollback()

    with transaction(engine) as session:
        before = _stored(session)
        many = [("refused", type(r).__name__, str(r)) if isinstance(r, PlaceringError)
                else ("made", r["entity_id"], r["changes"], r["effective_on"])
                for r in change_unit_statuses(session, CHANGES, actor="handläggare")]
        bulk = _stored(session)
        session.rollback()

    assert many == one_by_one
    assert [r[0] for r in many] == ["made", "made", "refused", "refused", "refused", "refused", "refused",
                                    "refused", "refused", "made", "made"]
    assert bulk == single
    assert len(bulk[1]) == len(before[1]) + 4
    assert dict((u[0], u[1:]) for u in bulk[0])["U-3001"] == ("removed", "ekonomiska_brister", "Samlad bedömning")


def _rules_rows(session, summary) -> tuple:
    """Units, proposals, history and the import's summary, proposal ids by their order (a
    rolled-back transaction does not give PostgreSQL's ids back)."""
    from placering.storage.models import Proposal

    proposals = list(session.scalars(select(Proposal).order_by(Proposal.id)))
    rank = {p.id: i for i, p in enumerate(proposals)}
    units = sorted((u.unit_id, u.status, u.removal_reason, u.status_note) for u in session.scalars(select(Unit)))
    stored = [(p.kind, p.org_nr, p.unit_id, p.rule_id, p.rules_version, p.message, p.details, p.status, p.created_on)
              for p in proposals]
    history = [(h.entity_kind, rank[int(h.entity_id)] if h.entity_kind == "proposal" else h.entity_id, h.action,
                h.effective_on, h.changes, h.org_nr, h.unit_id, h.reason, h.note, h.rule_id, h.rules_version, h.actor)
               for h in session.scalars(select(History).order_by(History.id))]
    said = summary.as_dict()
    for r in said["rules"]:
        r["proposal_id"] = rank.get(r["proposal_id"])
    for c in said["changes"]:
        if c["entity_kind"] == "proposal":
            c["entity_id"] = rank[int(c["entity_id"])]
    return units, stored, history, said


def test_import_rules_write_what_one_by_one_writes(engine, monkeypatch):
    """An import's register-status rules write their status changes and proposals together after
    the events (EventReader.write); the same import with each change written as its event makes
    it (a reader that does not hold the units' locks) stores the same units, proposals and
    history, in the same order, and reports the same."""
    import placering.rules.register_status as rs
    from placering.demo import generate_register

    doc = generate_register(units=60)
    with transaction(engine) as session:
        together = _rules_rows(session, import_document(session, doc, actor="test", apply_status=True))
        session.rollback()

    class OneByOne(rs.EventReader):
        # and reading the suppliers back from the database, not from the rows the import wrote
        def __init__(self, session, org_nrs, unit_ids=(), *, locked=False, documents=None):
            assert documents  # (the import's new suppliers)
            super().__init__(session, org_nrs, unit_ids, locked=False)

    class ReadBack(rs.EventReader):
        def __init__(self, session, org_nrs, unit_ids=(), *, locked=False, documents=None):
            super().__init__(session, org_nrs, unit_ids, locked=locked)

    others = []
    for reader in (OneByOne, ReadBack):
        monkeypatch.setattr(rs, "EventReader", reader)
        with transaction(engine) as session:
            others.append(_rules_rows(session, import_document(session, generate_register(units=60), actor="test",
                                                               apply_status=True)))
            session.rollback()

    actions = [r["action"] for r in together[3]["rules"]]
    assert actions.count("unit_status") >= 3 and actions.count("proposal") >= 3
    assert together == others[0]
    assert together == others[1]
