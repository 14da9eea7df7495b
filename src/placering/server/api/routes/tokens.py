"""API tokens: list (an admin: every token; a person: their own), create (an admin: a machine
client's token with roles; a person: their own, with at most their roles), revoke. The secret
is in the answer to create only; the register keeps its sha256."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from ....access.acting import acting_as
from ....access.policy import Principal
from ....access.tokens import create_token, list_tokens, revoke_token
from ....storage import open_session, transaction
from ...deps import current_principal, get_engine
from ..models import Text

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenOut(BaseModel):
    id: int
    name: str
    account: str | None
    roles: list[str]
    municipality: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    state: str


class TokenCreated(TokenOut):
    secret: str = Field(description="The token: shown once, stored only as its sha256")


class TokenIn(BaseModel):
    name: Text = Field(min_length=1, max_length=100, description="The machine client it is for")
    roles: list[Text] = Field(default_factory=list, max_length=7,
                              description="Its roles (a person's own token: at most the person's; default theirs)")
    municipality: Text | None = Field(default=None, max_length=100, description="A social worker token's municipality")
    days: int = Field(default=90, ge=1, le=366)
    for_me: bool = Field(default=False, description="A token acting for me (with my roles), not a machine client's")


@router.get("", response_model=list[TokenOut], responses={401: {}})
def tokens(engine: Engine = Depends(get_engine), principal: Principal = Depends(current_principal)):
    with acting_as(principal), open_session(engine) as session:
        return list_tokens(session, principal)


@router.post("", response_model=TokenCreated, status_code=201, responses={401: {}, 403: {}, 404: {}, 422: {}})
def create(body: TokenIn, engine: Engine = Depends(get_engine), principal: Principal = Depends(current_principal)):
    with acting_as(principal), transaction(engine) as session:
        return create_token(session, principal, body.name, roles=body.roles, municipality=body.municipality,
                            days=body.days, account=principal.login if body.for_me else None)


@router.delete("/{token_id}", response_model=TokenOut, responses={401: {}, 403: {}, 404: {}})
def revoke(token_id: int = Path(ge=1, le=2**31 - 1), engine: Engine = Depends(get_engine),
           principal: Principal = Depends(current_principal)):
    with acting_as(principal), transaction(engine) as session:
        return revoke_token(session, principal, token_id)
