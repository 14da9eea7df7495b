"""The commands that ran on a database only until the CLI became the server's client: the
register export, time-limited access to protected cases and who read them, the life of the
decision behind a request, and the replay of stored requests with candidate rules. Each route
calls the library function the CLI calls locally and answers its `--json` document.

(One module, named to be included before register.py: /register/export must not be taken for
the register object 'export'.)"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from ....access.policy import Action, Principal
from ....i18n import msg
from ...deps import get_engine, require
from ._domain import ERRORS, answer

router = APIRouter()

Id = Annotated[str, Path(min_length=1, max_length=200)]
Code = Annotated[str | None, Query(max_length=200)]
Note = Annotated[str | None, Field(default=None, max_length=2000)]
MAX_RULE_FILES = 500
MAX_RULES_BYTES = 5_000_000


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrantIn(Change):
    reader: str = Field(min_length=1, max_length=200, description="The handler given access to the protected case")
    valid_from: date
    valid_to: date


class DecisionLifeIn(Change):
    what: Literal["decided", "ended", "interrupted", "resumed"]
    on: date
    reason: Note = Field(default=None, description="With 'ended': person_request or needs_changed")
    note: Note = None


class ReplayIn(Change):
    files: dict[Annotated[str, Field(min_length=1, max_length=300)], Annotated[str, Field(max_length=MAX_RULES_BYTES)]] = \
        Field(description="The candidate rules directory: each file's path in it → its text", max_length=MAX_RULE_FILES)
    rules_dir: str | None = Field(default=None, max_length=1000, description="The directory as the person named it")
    engine: Literal["durable", "reference", "vectorized"] = "vectorized"
    since: date | None = None
    until: date | None = None


@router.get("/register/export", tags=["register"], responses=ERRORS)
def register_export(show_protected: bool = False, engine: Engine = Depends(get_engine),
                    principal: Principal = Depends(require(Action.REGISTER_READ))):
    """`placering register export --json`: the whole register (placering-register/1)."""
    from ....register import views

    return answer(principal, views.export, engine, show_protected=show_protected)


@router.post("/requests/{request_id}/grants", tags=["requests"], responses=ERRORS)
def request_grant(request_id: Id, body: GrantIn, engine: Engine = Depends(get_engine),
                  principal: Principal = Depends(require(Action.REQUEST_GRANT))):
    """`placering request grant R --to READER --until DAY`: time-limited access to a protected case."""
    from ....access.protected_cases import grant_view

    return answer(principal, grant_view, engine, request_id, reader=body.reader, valid_from=body.valid_from,
                  valid_to=body.valid_to, actor=principal.login)


@router.post("/requests/{request_id}/decision-life", tags=["casework"], responses=ERRORS)
def followup_decision(request_id: Id, body: DecisionLifeIn, engine: Engine = Depends(get_engine),
                      principal: Principal = Depends(require(Action.PLACEMENT_WRITE))):
    """`placering followup decision R WHAT`: decision day, ended without execution, interrupted, resumed."""
    from ....casework.views import decision_life

    return answer(principal, decision_life, engine, request_id, body.what, on=body.on, reason=body.reason,
                  note=body.note, actor=principal.login)


@router.get("/audit/protected-reads", tags=["audit"], responses=ERRORS)
def protected_reads(request_id: Code = None, reader: Code = None, since: date | None = None, until: date | None = None,
                    engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.AUDIT_READ))):
    """`placering audit protected-reads --json`: who read a protected case, and when."""
    from ....access.protected_cases import reads_view

    return answer(principal, reads_view, engine, request_id=request_id, reader=reader, since=since, until=until)


@router.post("/requests/replay", tags=["requests"], responses=ERRORS)
def request_replay(body: ReplayIn, engine: Engine = Depends(get_engine),
                   principal: Principal = Depends(require(Action.RULES_DEPLOY))):
    """`placering request replay --rules DIR --json`: the stored requests decided with the current
    and the candidate rules (sent as files); stores nothing. Candidate rules run on the server, so
    this is for those who may deploy rules there."""
    import tempfile
    from pathlib import Path as FilePath, PurePosixPath

    from ....errors import ValidationError
    from ....matching.replay import replay_view
    from ....rules import ruleset

    if sum(len(t.encode("utf-8")) for t in body.files.values()) > MAX_RULES_BYTES:
        raise ValidationError(msg("replay.rules_too_large", mb=MAX_RULES_BYTES // 1_000_000))
    with tempfile.TemporaryDirectory(prefix="placering-replay-") as tmp:
        root = FilePath(tmp)
        for name, text in body.files.items():
            parts = PurePosixPath(name).parts
            if not parts or PurePosixPath(name).is_absolute() or any(p in ("..", ".", "") or "\\" in p for p in parts):
                raise ValidationError(msg("replay.path_outside", name=name[:100]))
            target = root.joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8", errors="surrogatepass")
            except (OSError, UnicodeError, ValueError):  # a name the file system refuses (too long, a NUL)
                raise ValidationError(msg("replay.path_outside", name=name[:100])) from None
        try:
            return answer(principal, replay_view, engine, root, engine=body.engine, since=body.since,
                          until=body.until, shown_as=body.rules_dir, freeze=False)
        finally:
            for key in [k for k in getattr(ruleset, "_CACHE", {}) if isinstance(k, tuple) and k[0] in (str(root), str(root.resolve()))]:
                ruleset._CACHE.pop(key, None)
