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

from sqlalchemy import select
from sqlmodel import Session

from ..storage.models import Decision, PlacementRequest
from .matcher import MatchContext, compare
from .request import PlacementRequestIn


def stored_cases(session: Session, since: date | None = None) -> list[tuple[PlacementRequest, Decision]]:
    """Every stored request (submitted on or after `since`) with its latest decision."""
    stmt = select(PlacementRequest).order_by(PlacementRequest.submitted_on, PlacementRequest.request_id)
    if since is not None:
        stmt = stmt.where(PlacementRequest.submitted_on >= since)
    requests = list(session.scalars(stmt))
    latest: dict[int, Decision] = {}
    for d in session.scalars(select(Decision).order_by(Decision.request_id, Decision.seq)):
        latest[d.request_id] = d
    return [(r, latest[r.id]) for r in requests if r.id in latest]


def replay(session: Session, *, since: date | None = None, rules_dir: Path | None = None,
           engine: str = "durable", context: MatchContext | None = None) -> dict[str, Any]:
    """Re-decide the stored requests (see the module docstring); `context` may be given
    already loaded (then `rules_dir` and `engine` are not used)."""
    ctx = context or MatchContext.load(session, engine=engine, rules_dir=rules_dir)
    cases = stored_cases(session, since)
    differences = []
    for row, decision in cases:
        old = decision.document
        request = PlacementRequestIn.model_validate(row.payload)
        new = ctx.decide(request, declined=old.get("declined_units", []), limit=old.get("limit_requested"),
                         with_excluded=False)
        changes = compare(old, new)
        if old.get("rules_version") != new["rules_version"]:
            version = {"old": old.get("rules_version"), "new": new["rules_version"]}
        else:
            version = None
        if changes:
            differences.append({"request_id": row.request_id, "seq": decision.seq, "rules_version": version,
                                "changes": changes})
    return {
        "rules_version": ctx.ruleset.version,
        "rules_dir": str(ctx.ruleset.directory),
        "since": since.isoformat() if since else None,
        "requests": len(cases),
        "unchanged": len(cases) - len(differences),
        "differences": differences,
    }
