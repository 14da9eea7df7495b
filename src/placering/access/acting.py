"""Whom the current work is done for: the signed-in person, set for the length of a request.

The server (and the CLI) wrap every piece of work in `with acting_as(principal):`. The library
reads `current_principal()` where it authorizes; on PostgreSQL each transaction opened while a
principal is set tells the database who it is (set_config('placering.login' | 'placering.roles'
| 'placering.municipality', …, true)), so row-level security and the history trigger key on the
signed-in person, not on the service login (storage/ installs that listener).

A ContextVar, not a global: each request of the server runs in its own context (asyncio task
or worker thread), so two people's requests never see each other's principal.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from .policy import Principal

_current: ContextVar[Principal | None] = ContextVar("placering_principal", default=None)


def current_principal() -> Principal | None:
    return _current.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[Principal | None]:
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)


def set_default_principal(principal: Principal) -> None:
    """The principal of the rest of this context (a CLI process: the local principal)."""
    _current.set(principal)
