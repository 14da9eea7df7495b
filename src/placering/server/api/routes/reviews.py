"""The direct-procurement review queue through the API: what `placering review …` does, by the
same functions (matching/views.py). The four eyes (a reviewer never decides a case they
decided or chose) stay in matching/review.py."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from ....access.policy import Action, Principal
from ....matching import views
from ...deps import get_engine, require
from ._domain import ERRORS, answer

router = APIRouter(prefix="/reviews", tags=["reviews"])

ReviewId = Annotated[str, Path(min_length=1, max_length=200)]


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000, description="The reviewer's note (required)")


@router.get("", responses=ERRORS)
def review_list(status: Literal["pending", "approved", "rejected"] | None = None,
                engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.REVIEW_READ))):
    """`placering review list --json`: reviews of direct-procurement decisions, oldest first."""
    return answer(principal, views.review_list, engine, status=status)


@router.get("/{review_id}", responses=ERRORS)
def review_show(review_id: ReviewId, engine: Engine = Depends(get_engine),
                principal: Principal = Depends(require(Action.REVIEW_READ))):
    """`placering review show ID --json`: what a reviewer needs to decide the case."""
    return answer(principal, views.review_show, engine, review_id)


@router.post("/{review_id}/approve", responses=ERRORS)
def approve(review_id: ReviewId, body: ReviewDecision, engine: Engine = Depends(get_engine),
            principal: Principal = Depends(require(Action.REVIEW_DECIDE))):
    """`placering review approve ID --note …`."""
    return answer(principal, views.review_decide, engine, review_id, approve=True, actor=principal.login,
                  note=body.note)


@router.post("/{review_id}/reject", responses=ERRORS)
def reject(review_id: ReviewId, body: ReviewDecision, engine: Engine = Depends(get_engine),
           principal: Principal = Depends(require(Action.REVIEW_DECIDE))):
    """`placering review reject ID --note …`."""
    return answer(principal, views.review_decide, engine, review_id, approve=False, actor=principal.login,
                  note=body.note)
