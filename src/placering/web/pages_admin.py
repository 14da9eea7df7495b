"""The admin's pages: people (accounts), their roles and municipality, and API tokens, through the
server's library functions (access/users.py, access/tokens.py), which authorize again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..access.policy import Action, Principal, authorize
from ..access.roles import Role
from ..errors import InvariantViolation, NotFound, NotPermitted, ValidationError
from ..i18n import msg
from ..storage import open_session, transaction
from .forms import Form
from .render import FormErrors, render
from .session import engine, run, signed_in

router = APIRouter()


def _state(db: Any, principal: Principal) -> dict[str, Any]:
    from ..access.tokens import list_tokens
    from ..access.users import list_users

    with open_session(db) as session:
        return {"users": list_users(session), "tokens": list_tokens(session, principal)}


async def _page(request: Request, principal: Principal, errors: FormErrors | None = None, notice: str | None = None,
                secret: str | None = None, values: dict | None = None, status: int = 200) -> Response:
    from ..labels import label
    from ..taxonomy import load_taxonomy

    state = await run(principal, _state, engine(request), principal)
    roles = [(r.value, label(r.value, "role")) for r in Role]
    municipalities = sorted((m.name, m.name) for m in load_taxonomy().municipalities.values())
    return render(request, "admin.html", {"title": "Administration", **state, "roles": roles,
                                          "municipalities": municipalities, "errors": errors, "notice": notice,
                                          "secret": secret, "v": values or {}}, status=status)


@router.get("/admin")
async def admin(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.ADMIN_USERS)
    return await _page(request, principal)


@router.post("/admin/{what}")
async def change(request: Request, what: str, principal: Principal = Depends(signed_in)) -> Response:
    from ..access.tokens import create_token, revoke_token
    from ..access.users import add_user, remove_user
    from ..cli.messages import swedish

    f = Form(await request.form())
    secret = None
    if what == "person":
        authorize(principal, Action.ADMIN_USERS)
        login = f.text("login", required=True, what="användarnamn")
        roles = f.many("roles")
        if not roles:
            f.errors.add("roles", "Välj minst en roll.")
        municipality = f.text("municipality")
        password = f.text("password")

        def work(session: Any) -> str:
            add_user(session, login, roles=roles, municipality=municipality, password=password)
            return f"{login} har nu rollerna {', '.join(roles)}."
    elif what == "ta-bort":
        authorize(principal, Action.ADMIN_USERS)
        login = f.text("login", required=True, what="användarnamn")

        def work(session: Any) -> str:
            remove_user(session, login)
            return f"{login} är borttagen."
    elif what == "nyckel":
        authorize(principal, Action.ADMIN_TOKENS)
        name = f.text("token_name", required=True, what="nyckelns namn")
        roles = f.many("token_roles")
        municipality = f.text("token_municipality")
        days = f.integer("token_days", what="giltighet i dagar", lo=1, hi=3650)

        def work(session: Any) -> str:
            nonlocal secret
            row = create_token(session, principal, name, roles=roles, municipality=municipality, days=days)
            secret = row["secret"]
            return f"API-nyckel {row['id']} ({name}) är skapad. Kopiera den nu: den visas inte igen."
    elif what == "aterkalla":
        authorize(principal, Action.ADMIN_TOKENS)
        token_id = f.integer("token_id", required=True, what="nyckel")

        def work(session: Any) -> str:
            revoke_token(session, principal, token_id)
            return f"API-nyckel {token_id} är återkallad."
    else:
        raise NotFound(msg("web.no_admin_form", form=what))
    if f.errors:
        return await _page(request, principal, f.errors, values=f.values, status=400)

    def write() -> str:
        with transaction(engine(request)) as session:
            return work(session)

    try:
        notice = await run(principal, write)
    except (ValidationError, InvariantViolation, NotFound, NotPermitted) as exc:
        errors = FormErrors()
        for p in getattr(exc, "problems", None) or [exc]:
            errors.add(None, swedish(getattr(p, "message", str(p))))
        return await _page(request, principal, errors, values=f.values, status=409)
    return await _page(request, principal, notice=notice, secret=secret)
