"""The reviewer's pages: the queue of direct-procurement reviews and the case page (price against
the reference, this year's direct purchases against the threshold, approve or reject; never one's
own case: the four-eyes check is matching/review.py's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..access.policy import Action, Principal, authorize
from ..errors import InvariantViolation, NotPermitted, ValidationError
from .forms import Form
from .render import FormErrors, render
from .session import engine, run, signed_in

router = APIRouter()


@router.get("/granskningar")
async def queue(request: Request, status: str | None = "pending", principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.REVIEW_READ)
    from ..matching.views import review_list

    status = status if status in ("pending", "approved", "rejected") else None
    # a social worker's list holds its own municipality's reviews only (the view scopes it)
    rows = await run(principal, review_list, engine(request), status=status)
    return render(request, "reviews.html", {"title": "Granskningar av direktupphandling", "rows": rows, "status": status})


def _detail(db: Any, principal: Principal, review_id: str) -> dict[str, Any]:
    from ..matching.views import review_show

    data = review_show(db, review_id)
    authorize(principal, Action.REVIEW_READ, municipality=data["request"]["municipality"])
    return data


async def _page(request: Request, principal: Principal, review_id: str, errors: FormErrors | None = None,
                notice: str | None = None, status: int = 200) -> Response:
    data = await run(principal, _detail, engine(request), principal, review_id)
    return render(request, "review.html", {"title": f"Granskning {review_id}", "d": data, "errors": errors,
                                           "notice": notice, "A": Action}, status=status)


@router.get("/granskningar/{review_id}")
async def case(request: Request, review_id: str, principal: Principal = Depends(signed_in)) -> Response:
    return await _page(request, principal, review_id)


@router.post("/granskningar/{review_id}")
async def decide(request: Request, review_id: str, principal: Principal = Depends(signed_in)) -> Response:
    from ..cli.messages import swedish
    from ..matching.views import review_decide

    authorize(principal, Action.REVIEW_DECIDE)
    f = Form(await request.form())
    note = f.text("note", required=True, what="en motivering")
    decision = f.text("decision", required=True, what="godkänn eller avslå")
    if decision not in (None, "approve", "reject"):
        f.errors.add("decision", "Välj godkänn eller avslå.")
    if f.errors:
        return await _page(request, principal, review_id, f.errors, status=400)

    try:
        status = (await run(principal, review_decide, engine(request), review_id, approve=decision == "approve",
                            actor=principal.login, note=note))["status"]
    except (ValidationError, InvariantViolation, NotPermitted) as exc:
        errors = FormErrors()
        errors.add("note", swedish(exc))
        return await _page(request, principal, review_id, errors, status=409)
    from ..labels import label

    return await _page(request, principal, review_id, notice=f"Granskningen är {label(status, 'review_status').lower()}.")
