"""Placement requests through the API: what `placering match` and `placering request …` do, by
the same functions (matching/views.py). A social worker reaches its own municipality's requests
only (checked in the library, as the signed-in person, for every request it reads or changes)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from ....access.acting import acting_as
from ....access.policy import Action, Principal
from ....matching import views
from ....matching.request import PlacementRequestIn
from ...deps import get_engine, require
from ._domain import ERRORS, answer

router = APIRouter(prefix="/requests", tags=["requests"])

RequestId = Annotated[str, Path(min_length=1, max_length=200)]
Evaluator = Literal["durable", "reference", "vectorized"]
Note = Annotated[str | None, Field(default=None, max_length=2000)]


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Choice(Change):
    unit_id: str = Field(min_length=1, max_length=200)
    reason: Note = Field(default=None, description="Required when the unit was not recommended")
    special_reason: Note = Field(default=None, description="Särskilda skäl (stödboende for a 16- or 17-year-old)")
    on: date | None = Field(default=None, description="The day of choosing (default today)")
    negotiated_price: float | None = Field(default=None, ge=0, le=1_000_000_000,
                                           description="The daily price negotiated with the supplier (price model)")


class DeclineIn(Change):
    unit_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class EndIn(Change):
    on: date = Field(description="The placement's last day")
    reason: Note = None


class Rematch(Change):
    pass


_REQUEST_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": PlacementRequestIn.model_json_schema(ref_template="#/components/schemas/{model}")
                         | {"title": "PlacementRequest"}},
    "application/x-ndjson": {"schema": {"type": "string", "description": "Many requests: one JSON object per line"}},
}}}


def _match_answer(principal: Principal, engine: Engine, data: bytes, name: str, **kwargs) -> Response:
    with acting_as(principal):
        result = views.match(engine, data, name, actor=principal.login, **kwargs)
        if "explain" in result:
            return JSONResponse(result)
        result["documents"] = list(result["documents"])
    return JSONResponse(result)


@router.post("/match", responses=ERRORS, openapi_extra=_REQUEST_BODY)
async def match(request: Request,
                name: Annotated[str | None, Query(max_length=500, description="The file's name (its suffix .jsonl "
                                                  "or .ndjson reads JSON lines; problems name it)")] = None,
                limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
                explain: Annotated[str | None, Query(max_length=200)] = None, engine_: Annotated[
                    Evaluator, Query(alias="engine")] = "vectorized",
                commit_every: Annotated[int, Query(ge=1, le=100_000)] = views.COMMIT_EVERY,
                documents: Literal["full", "stored", "grouped", "none"] = "full",
                engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.REQUEST_MATCH))):
    """`placering match REQUEST.json|REQUESTS.jsonl`: the body is one placement request (the
    request model, `placering request schema`) or JSON lines of many, validated as the CLI
    validates a file (all or nothing). Answers {"single", "results": a summary per request,
    "documents": each request's latest decision (`documents`: full as --json prints it, stored
    (compact), grouped (stored, with the excluded units' ids by reason, as the CLI prints one
    request), or none)}; with `explain`, {"explain": where that unit stands} (nothing stored)."""
    from starlette.concurrency import run_in_threadpool

    data = await request.body()
    if name is None:
        ndjson = "ndjson" in request.headers.get("content-type", "")
        name = "requests.jsonl" if ndjson else "request.json"
    return await run_in_threadpool(_match_answer, principal, engine, data, name, evaluator=engine_, limit=limit,
                                   explain_unit=explain, commit_every=commit_every,
                                   documents_as=None if documents == "none" else documents)


@router.get("/{request_id}", responses=ERRORS)
def show(request_id: RequestId, show_protected: bool = False, compact: bool = False, grouped: bool = False,
         engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.REQUEST_READ))):
    """`placering request show R --json`: the request with every decision (whole; `compact`: as
    stored; `grouped`: as stored, the latest with its excluded units' ids by reason, as the
    table prints it), decline, review and the placement."""
    full = "grouped" if grouped else not compact
    return answer(principal, views.request_show, engine, request_id, show_protected=show_protected, full=full)


@router.get("/{request_id}/explain/{unit_id}", responses=ERRORS)
def explain(request_id: RequestId, unit_id: Annotated[str, Path(min_length=1, max_length=200)],
            engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.REQUEST_READ))):
    """`placering request show R --explain UNIT --json`: where the unit stood in the latest decision."""
    return answer(principal, views.request_explain, engine, request_id, unit_id)


@router.post("/{request_id}/choose", responses=ERRORS)
def choose(request_id: RequestId, body: Choice, engine: Engine = Depends(get_engine),
           principal: Principal = Depends(require(Action.REQUEST_CHOOSE))):
    """`placering request choose R UNIT`: the placement created."""
    return answer(principal, views.choose, engine, request_id, body.unit_id, actor=principal.login,
                  reason=body.reason, special_reason=body.special_reason, on=body.on,
                  negotiated_price=body.negotiated_price)


@router.post("/{request_id}/decline", responses=ERRORS)
def decline(request_id: RequestId, body: DeclineIn, engine: Engine = Depends(get_engine),
            principal: Principal = Depends(require(Action.REQUEST_DECLINE))):
    """`placering request decline R UNIT --reason …`: the decline recorded."""
    return answer(principal, views.decline, engine, request_id, body.unit_id, reason=body.reason,
                  actor=principal.login)


@router.post("/{request_id}/end", responses=ERRORS)
def end(request_id: RequestId, body: EndIn, engine: Engine = Depends(get_engine),
        principal: Principal = Depends(require(Action.REQUEST_END))):
    """`placering request end R --on DATE`: the placement ended."""
    return answer(principal, views.end, engine, request_id, end_on=body.on, actor=principal.login, reason=body.reason)


@router.post("/{request_id}/rematch", responses=ERRORS)
def rematch(request_id: RequestId, body: Rematch | None = None,
            limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
            explain: Annotated[str | None, Query(max_length=200)] = None,
            engine_: Annotated[Evaluator, Query(alias="engine")] = "vectorized", compact: bool = False,
            engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.REQUEST_MATCH))):
    """`placering request rematch R`: a new decision without the units that declined (whole, as
    --json prints it; `compact`: as stored), or with `explain` where that unit stands."""
    return answer(principal, views.rematch, engine, request_id, actor=principal.login, evaluator=engine_,
                  limit=limit, explain_unit=explain, full=not compact)
