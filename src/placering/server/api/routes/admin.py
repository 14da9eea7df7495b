"""The people who sign in (an admin only): list, add (with roles, municipality and optionally a
local password), remove. The same library functions as `placering admin user add/list/remove`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from ....access.acting import acting_as
from ....access.policy import Action, Principal
from ....access.users import add_user, list_users, remove_user
from ....storage import open_session, transaction
from ...deps import get_engine, require
from ..models import Text

router = APIRouter(prefix="/admin", tags=["admin"])


class UserOut(BaseModel):
    user: str
    roles: list[str]
    municipality: str | None
    can_log_in: bool
    local_password: bool
    added_by: str
    added_at: datetime


class UserIn(BaseModel):
    login: Text = Field(min_length=1, max_length=63)
    roles: list[Text] = Field(min_length=1, max_length=7)
    municipality: Text | None = Field(default=None, max_length=100)
    password: Text | None = Field(default=None, min_length=1, max_length=1000,
                                  description="A local account's password (none: signs in through OIDC or the proxy)")


class UserAdded(BaseModel):
    user: str
    roles: list[str]
    municipality: str | None
    login_existed: bool
    local_password: bool


class UserRemoved(BaseModel):
    user: str
    roles_removed: list[str]


@router.get("/users", response_model=list[UserOut], responses={401: {}, 403: {}})
def users(engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.ADMIN_USERS))):
    with acting_as(principal), open_session(engine) as session:
        return list_users(session)


@router.post("/users", response_model=UserAdded, status_code=201, responses={401: {}, 403: {}, 422: {}})
def add(body: UserIn, engine: Engine = Depends(get_engine),
        principal: Principal = Depends(require(Action.ADMIN_USERS))):
    with acting_as(principal), transaction(engine) as session:
        return add_user(session, body.login, roles=body.roles, municipality=body.municipality,
                        password=body.password, database_login=False)


@router.delete("/users/{login}", response_model=UserRemoved, responses={401: {}, 403: {}, 404: {}})
def remove(login: str = Path(min_length=1, max_length=63), engine: Engine = Depends(get_engine),
           principal: Principal = Depends(require(Action.ADMIN_USERS))):
    with acting_as(principal), transaction(engine) as session:
        return remove_user(session, login)
