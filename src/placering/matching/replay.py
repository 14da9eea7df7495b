"""Replay: what a rule change would do to the stored requests, before it is adopted.

Each stored request is decided twice on the same register state (one snapshot, one revision):
with the current rules and with the candidate rules directory, on its own evaluation date
(`submitted_on`), leaving out the units its latest decision left out because they declined,
with the number of recommendations it asked for. Differences therefore come from the rules
alone, never from register changes since the request was decided. Nothing is stored.

A difference is a field record: request, unit, its rank under the current and the candidate
rules (None when not recommended), the kind of change, the rules it is due to and their reasons
(the exclusion or flag that appears or disappears). `summary` counts the changes per rule.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from ..storage.models import Decision, PlacementRequest
from .decisions import request_model
from .matcher import MatchContext, compare, load_evaluator

CHUNK = 200  # cases read at a time: a year's decisions do not need to be in memory at once
RANKING = "(rangordning)"  # a unit moved only because others entered or left: no rule of its own


def stored_cases(session: Session, since: date | None = None, until: date | None = None) -> list[tuple[int, int]]:
    """(request pk, latest decision pk) of every stored request submitted on or after `since`
    (and on or before `until`) that has a decision, in submission order."""
    latest = (select(Decision.request_id, func.max(Decision.seq).label("seq"))
              .group_by(Decision.request_id).subquery())
    stmt = (select(PlacementRequest.id, Decision.id)
            .join(latest, latest.c.request_id == PlacementRequest.id)
            .join(Decision, (Decision.request_id == PlacementRequest.id) & (Decision.seq == latest.c.seq))
            .order_by(PlacementRequest.submitted_on, PlacementRequest.request_id))
    if since is not None:
        stmt = stmt.where(PlacementRequest.submitted_on >= since)
    if until is not None:
        stmt = stmt.where(PlacementRequest.submitted_on <= until)
    return [(r, d) for r, d in session.execute(stmt)]


def candidate_context(current: MatchContext, ruleset: Any, engine: str) -> MatchContext:
    """The candidate rules on the very register snapshot `current` decides on."""
    return replace(current, ruleset=ruleset, evaluator=load_evaluator(engine, ruleset, current.snapshot),
                   _policies={})


def _reasons(entry: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not entry:
        return []
    return [{"rule": r.get("rule"), "code": r.get("code"), "message": r.get("message")}
            for r in [*entry.get("reasons", []), *entry.get("unevaluable", [])]]


def _flag_key(f: dict[str, Any]) -> tuple:
    return (f.get("code"), f.get("unit_id"), f.get("rule"), f.get("reason"))


def differences(request_id: str, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The structured differences between the current (`old`) and candidate (`new`) decisions of
    one request; both must be full documents (with `excluded`)."""
    ranks = lambda doc: {r["unit_id"]: r["rank"] for r in doc["recommendations"]}  # noqa: E731
    excluded = lambda doc: {e["unit_id"]: e for e in doc.get("excluded", [])}  # noqa: E731
    old_rank, new_rank = ranks(old), ranks(new)
    # A unit that moved with no rule of its own moved by the ranking: by the policy when the
    # candidate's policy differs, else only because other units entered or left.
    ranking = [new["ranking"]["rule"]] if old.get("ranking") != new.get("ranking") else [RANKING]
    old_ex, new_ex = excluded(old), excluded(new)
    out: list[dict[str, Any]] = []
    for unit_id in sorted(set(old_rank) | set(new_rank)):
        a, b = old_rank.get(unit_id), new_rank.get(unit_id)
        if a == b:
            continue
        was, now = _reasons(old_ex.get(unit_id)), _reasons(new_ex.get(unit_id))
        was_rules = {r["rule"] for r in was}
        now_rules = {r["rule"] for r in now}
        if b is None:  # no longer recommended: what now leaves it out
            change, reasons = "left", [dict(r, side="candidate") for r in now if r["rule"] not in was_rules]
        elif a is None:  # recommended now: what left it out before
            change, reasons = "entered", [dict(r, side="current") for r in was if r["rule"] not in now_rules]
        else:
            change, reasons = "rank", []
        rules = sorted({r["rule"] for r in reasons if r["rule"]}) or ranking
        out.append({"request_id": request_id, "unit_id": unit_id, "change": change, "old_rank": a, "new_rank": b,
                    "rules": rules, "reasons": reasons})
    old_flags = {_flag_key(f): f for f in old["flags"]}
    new_flags = {_flag_key(f): f for f in new["flags"]}
    for key in sorted(set(old_flags) ^ set(new_flags), key=lambda k: tuple(str(x) for x in k)):
        f = new_flags.get(key) or old_flags[key]
        added = key in new_flags
        unit = f.get("unit_id")
        out.append({"request_id": request_id, "unit_id": unit, "change": "flag_added" if added else "flag_removed",
                    "old_rank": old_rank.get(unit) if unit else None, "new_rank": new_rank.get(unit) if unit else None,
                    "rules": [f.get("rule") or RANKING],
                    "reasons": [{"rule": f.get("rule"), "code": f.get("code"), "message": f.get("message"),
                                 "side": "candidate" if added else "current"}]})
    if bool(old["review_required"]) != bool(new["review_required"]):
        out.append({"request_id": request_id, "unit_id": None, "change": "review", "old_rank": None, "new_rank": None,
                    "rules": sorted({r for d in out for r in d["rules"]}) or [RANKING],
                    "reasons": [{"rule": None, "code": "review_required", "side": "candidate",
                                 "message": f"granskning {'krävs' if new['review_required'] else 'krävs inte'}"}]})
    return out


def replay(session: Session, *, current: MatchContext, candidate: MatchContext,
           since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """Decide every stored request with both rule sets (see the module docstring)."""
    cases = stored_cases(session, since, until)
    diffs: list[dict[str, Any]] = []
    changed = 0
    for i in range(0, len(cases), CHUNK):
        chunk = cases[i:i + CHUNK]
        rows = {r.id: r for r in session.scalars(select(PlacementRequest).where(
            PlacementRequest.id.in_([r for r, _ in chunk])))}
        decisions = {d.id: d for d in session.scalars(select(Decision).where(Decision.id.in_([d for _, d in chunk])))}
        for request_pk, decision_pk in chunk:
            row, stored = rows[request_pk], decisions[decision_pk]
            request = request_model(row)
            how = {"declined": stored.document.get("declined_units", []),
                   "limit": stored.document.get("limit_requested")}
            old = current.decide(request, with_excluded=False, **how)
            new = candidate.decide(request, with_excluded=False, **how)
            if not compare(old, new):
                continue
            # Only a changed request pays for the reasons (the full lists of excluded units).
            found = differences(row.request_id, current.decide(request, **how), candidate.decide(request, **how))
            if found:
                changed += 1
                diffs += found
        session.expunge_all()
    return {
        "register_revision": current.revision,
        "current": {"rules_version": current.ruleset.version, "rules_dir": str(current.ruleset.directory)},
        "candidate": {"rules_version": candidate.ruleset.version, "rules_dir": str(candidate.ruleset.directory)},
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "requests": len(cases),
        "changed": changed,
        "unchanged": len(cases) - changed,
        "summary": summarise(diffs),
        "differences": diffs,
    }


def summarise(diffs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per rule: how many requests and units it changes, and how."""
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"requests": set(), "entered": 0, "left": 0, "rank": 0,
                                                          "flag_added": 0, "flag_removed": 0, "review": 0})
    for d in diffs:
        for rule in d["rules"]:
            p = per[rule]
            p["requests"].add(d["request_id"])
            p[d["change"]] += 1
    out = [{"rule": rule, **{k: (len(v) if k == "requests" else v) for k, v in p.items()}} for rule, p in per.items()]
    out.sort(key=lambda r: (-r["requests"], r["rule"]))
    return out


def replay_view(db, rules_dir, *, engine: str = "vectorized", since: date | None = None, until: date | None = None,
                shown_as: str | None = None, freeze: bool = True) -> dict[str, Any]:
    """`placering request replay --rules DIR --json`: every stored request decided with the
    current rules and with the candidate rules in `rules_dir`; stores nothing. `shown_as` is the
    candidate directory as the person named it (on the server the files sit in a temporary one)."""
    from ..jsondata import to_jsonable
    from ..rules import load_ruleset
    from ..storage import open_session

    candidate_rules = load_ruleset(rules_dir)
    current = MatchContext.load(db, engine=engine, store=False)  # replay stores nothing
    candidate = candidate_context(current, candidate_rules, engine)
    with open_session(db) as session:
        if freeze:  # a command's process: what the load built lives as long as it does
            from ..memory import freeze_long_lived

            freeze_long_lived(collect=True)
        result = replay(session, current=current, candidate=candidate, since=since, until=until)
    if shown_as is not None:
        result["candidate"]["rules_dir"] = shown_as
    return to_jsonable(result)
