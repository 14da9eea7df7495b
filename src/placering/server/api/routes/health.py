"""GET /api/v1/health: is the database reachable and its schema the one this version needs?
For the proxy's and the monitoring's checks: no sign-in, no personal data."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from ...deps import get_engine
from ....i18n import msg
from ...errors import body

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    expected_revision: str
    version: str


def _check(engine: Engine) -> tuple[int, dict]:
    from .... import __version__
    from ....storage.database import DatabaseError, current_revision, head_revision

    expected = head_revision()
    try:
        current = current_revision(engine)
    except DatabaseError as exc:
        return 503, body("database_unavailable", exc, database="unreachable", expected_revision=expected)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database is "unreachable"
        return 503, body("database_unavailable", msg("storage.cannot_open", reason=type(exc).__name__),
                         database="unreachable", expected_revision=expected)
    if current != expected:
        return 503, body("schema_not_current", msg("storage.old_schema", revision=current), database="reachable", schema_revision=current,
                         expected_revision=expected)
    return 200, {"status": "ok", "database": "reachable", "schema_revision": current,
                 "expected_revision": expected, "version": __version__}


@router.get("/health", response_model=Health, responses={503: {"description": "database unreachable or schema "
                                                                              "not current"}})
async def health(engine: Engine = Depends(get_engine)):
    status, content = await run_in_threadpool(_check, engine)
    return JSONResponse(content, status_code=status)
