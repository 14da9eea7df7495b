"""The demo register's placements: requests of the last two years, decided, chosen and ended on
their own dates, through the matching library (`match_request`, `choose`, `end_placement`) as a
handler would, so the audits of placements, direct purchases and the review queue have cases.

Decided against the register as it stands (the demo's date): the demo has no older decisions
to keep. A request whose first recommendation cannot be chosen (no free place, a review still
open) stays without a placement, as such requests do.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from ..errors import InvariantViolation, ValidationError
from ..vocabulary import UnitStatus
from .generator import generate_requests

REQUESTS_PER_YEAR = 40
ENDED_SHARE = 0.6
PAUSED_AFTER = 3  # units unpublished while people are placed there
HANDLER = "demo-handläggare"


def demo_requests(as_of: date, seed: int) -> list[dict]:
    """Requests of the year before `as_of` and of its own year, submitted at least a week before it."""
    out: list[dict] = []
    for year in (as_of.year - 1, as_of.year):
        out += [r for r in generate_requests(REQUESTS_PER_YEAR, year=year, seed=seed)
                if date.fromisoformat(r["start_on"]) <= as_of - timedelta(days=7)]
    return out


def load_placements(engine, *, as_of: date, seed: int, actor: str) -> dict[str, int]:
    """Decide, choose and end the demo requests (one transaction); counts of what was written and
    the units unpublished since while people are placed there."""
    from ..matching.decisions import ACTIVE, choose, end_placement
    from ..matching.decisions import match_request
    from ..matching.matcher import MatchContext
    from ..matching.request import validate_request
    from ..register.service import change_unit_status
    from ..storage import transaction

    rng = random.Random(f"placements:{seed}:{as_of.isoformat()}")
    requests = demo_requests(as_of, seed)
    counts: dict = {"requests": len(requests), "placements": 0, "placements_ended": 0, "pending_review": 0,
                    "paused_with_placements": []}
    active: list[tuple[str, date]] = []  # (unit, start) of placements still going on
    context = MatchContext.load(engine, engine="vectorized")  # before the writing session reads anything
    with transaction(engine) as session:
        # Every unit's name and municipality read once, as a batch does (the demo changes none
        # of them), instead of once per decision.
        context.preload_unit_labels(session)
        for payload in requests:
            request = validate_request(payload, file="demo requests")
            doc, _ = match_request(session, request, context=context, actor=HANDLER)
            if not doc["recommendations"]:
                continue
            first = doc["recommendations"][0]["unit_id"]
            start = date.fromisoformat(payload["start_on"])
            try:
                placement = choose(session, request.request_id, first, actor=HANDLER,
                                   special_reason="Särskilda skäl enligt utredningen",
                                   on=date.fromisoformat(payload["submitted_on"]), ruleset=context.ruleset)
            except (InvariantViolation, ValidationError):
                continue
            counts["placements"] += 1
            if placement.status != ACTIVE:
                counts["pending_review"] += 1
                continue
            end = start + timedelta(days=rng.randint(30, 400))
            if rng.random() < ENDED_SHARE and end < as_of:
                end_placement(session, request.request_id, end_on=end, actor=HANDLER,
                              reason=rng.choice(["utskrivning", "omplacering", "insatsen avslutad"]))
                counts["placements_ended"] += 1
            else:
                active.append((first, start))
        # A few units with people placed there were unpublished since: the affected placements
        # an auditor follows up (audit affected-placements).
        for unit_id, start in sorted(set(active))[:: max(1, len(active) // PAUSED_AFTER)][:PAUSED_AFTER]:
            on = max(start + timedelta(days=1), as_of - timedelta(days=rng.randint(1, 20)))
            if on > as_of:
                continue
            try:
                change_unit_status(session, unit_id, UnitStatus.UNPUBLISHED.value, actor=actor, effective_on=on,
                                   note="Avpublicerad efter klagomål; pågående placeringar följs upp")
            except (InvariantViolation, ValidationError):
                continue  # not published, or its status changed after that date
            counts["paused_with_placements"].append(unit_id)
    return counts
