"""Lists of requests for people: "my requests" (the handler's and the social worker's start),
newest first, with where each stands (decided, chosen, pending review, ended). Read-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from ..storage.models import Decision, Placement, PlacementRequest
from ..text import fold


def list_requests(session: Session, *, created_by: str | None = None, municipality: str | None = None,
                  limit: int = 200) -> list[dict[str, Any]]:
    """Requests newest first; `created_by` keeps one person's, `municipality` one municipality's
    (a social worker sees its own municipality's only: the caller passes its scope)."""
    latest = (select(Decision.request_id, func.max(Decision.seq).label("seq"))
              .group_by(Decision.request_id).subquery())
    q = (select(PlacementRequest, latest.c.seq, Placement)
         .outerjoin(latest, latest.c.request_id == PlacementRequest.id)
         .outerjoin(Placement, Placement.request_id == PlacementRequest.id)
         .order_by(PlacementRequest.created_at.desc(), PlacementRequest.id.desc()))
    if created_by is not None:
        q = q.where(PlacementRequest.created_by == created_by)
    rows = session.execute(q.limit(limit * 4 if municipality else limit)).all()
    out: list[dict[str, Any]] = []
    want = fold(municipality) if municipality else None
    for req, seq, placement in rows:
        if want is not None and fold(req.municipality) != want:
            continue
        if placement is None:
            state = "decided" if seq else "submitted"
        elif placement.end_on is not None:
            state = "ended"
        else:
            state = placement.status  # active or pending_review
        out.append({"request_id": req.request_id, "submitted_on": req.submitted_on, "municipality": req.municipality,
                    "requester": req.requester, "insats": req.insats, "subcategory": req.subcategory,
                    "created_by": req.created_by, "decisions": seq or 0, "state": state,
                    "unit_id": placement.unit_id if placement else None})
        if len(out) >= limit:
            break
    return out
