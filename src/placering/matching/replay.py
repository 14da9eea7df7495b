"""Replay: re-decide stored requests with the current (or a proposed) rules directory and list
every difference from their latest stored decision, so a rule change can be tried on last
year's cases before it is adopted. Nothing is stored.

Each request is re-decided on its own evaluation date (`submitted_on`) against today's register,
leaving out the units its latest decision left out because they declined. Differences are
what a handler acts on: the recommendations (unit, route, rank), the flags, and whether the
case needs review (`matcher.compare`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from ..storage.models import Decision, PlacementRequest
from .decisions import request_model
from .matcher import MatchContext, compare


CHUNK = 200  # cases read at a time: a year's decisions do not need to be in memory at once


def stored_cases(session: Session, since: date | None = None) -> list[tuple[int, int]]:
    """(request pk, latest decision pk) of every stored request submitted on or after `since`
    that has a decision, in submission order."""
    latest = (select(Decision.request_id, func.max(Decision.seq).label("seq"))
              .group_by(Decision.request_id).subquery())
    stmt = (select(PlacementRequest.id, Decision.id)
            .join(latest, latest.c.request_id == PlacementRequest.id)
            .join(Decision, (Decision.request_id == PlacementRequest.id) & (Decision.seq == latest.c.seq))
            .order_by(PlacementRequest.submitted_on, PlacementRequest.request_id))
    if since is not None:
        stmt = stmt.where(PlacementRequest.submitted_on >= since)
    return [(r, d) for r, d in session.execute(stmt)]


def replay(session: Session, *, since: date | None = None, rules_dir: Path | None = None,
           engine: str = "durable", context: MatchContext | None = None) -> dict[str, Any]:
    """Re-decide the stored requests (see the module docstring); `context` may be given
    already loaded (then `rules_dir` and `engine` are not used)."""
    ctx = context or MatchContext.load(session, engine=engine, rules_dir=rules_dir, store=False)
    cases = stored_cases(session, since)
    differences = []
    for i in range(0, len(cases), CHUNK):
        chunk = cases[i:i + CHUNK]
        rows = {r.id: r for r in session.scalars(select(PlacementRequest).where(
            PlacementRequest.id.in_([r for r, _ in chunk])))}
        decisions = {d.id: d for d in session.scalars(select(Decision).where(Decision.id.in_([d for _, d in chunk])))}
        for request_pk, decision_pk in chunk:
            row, decision = rows[request_pk], decisions[decision_pk]
            old = decision.document  # recommendations, flags and review are plain JSON
            request = request_model(row)
            new = ctx.decide(request, declined=old.get("declined_units", []), limit=old.get("limit_requested"),
                             with_excluded=False)
            changes = compare(old, new)
            if changes:
                version = None
                if old.get("rules_version") != new["rules_version"]:
                    version = {"old": old.get("rules_version"), "new": new["rules_version"]}
                differences.append({"request_id": row.request_id, "seq": decision.seq, "rules_version": version,
                                    "changes": changes})
        session.expunge_all()
    return {
        "rules_version": ctx.ruleset.version,
        "rules_dir": str(ctx.ruleset.directory),
        "since": since.isoformat() if since else None,
        "requests": len(cases),
        "unchanged": len(cases) - len(differences),
        "differences": differences,
    }
