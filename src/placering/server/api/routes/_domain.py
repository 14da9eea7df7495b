"""What the domain routes (register, requests, reviews, audit) share: run the library function
the CLI calls, as the signed-in person, and answer with its document.

A route authorizes with `require(Action.X)` (deps.py, the one table in access/policy.py), then
`answer(principal, views.f, engine, ...)` runs `views.f` inside `acting_as(principal)` (in the
worker thread FastAPI runs a plain `def` route in) and returns its JSON as it is: the same
document `placering … --json` prints. A change is recorded with actor = principal.login. The
library's errors go to app.py's handlers: JSON with a code and a Swedish message, statuses as
the CLI's exit codes (invalid 422 ↔ 2, not permitted 403 ↔ 6, not found 404 ↔ 3, refused by an
invariant 409 ↔ 4), never a 500 for bad input.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from fastapi.responses import JSONResponse, Response

from ....access.acting import acting_as
from ....access.policy import Principal

# Module-private: starts with '_' so api/__init__ does not look for a router here.


def answer(principal: Principal, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Response:
    with acting_as(principal):
        data = function(*args, **kwargs)
    return JSONResponse(data)


def json_array(documents: Iterable[Any]) -> bytes:
    """Documents as one JSON array, as they come (a batch's decisions)."""
    return ("[" + ",".join(json.dumps(d, ensure_ascii=False) for d in documents) + "]").encode("utf-8")


ERRORS = {401: {"description": "not signed in"}, 403: {"description": "not permitted for your roles"},
          404: {"description": "not found"}, 409: {"description": "refused by a register invariant"},
          422: {"description": "invalid input"}}
