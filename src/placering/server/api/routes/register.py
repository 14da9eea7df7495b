"""The register through the API. The pattern every domain route follows:
1. `principal = Depends(require(Action.X))`: signed in and allowed (access/policy.py);
2. a plain `def` (FastAPI runs it in a worker thread: the library is synchronous);
3. `with acting_as(principal):` and the SAME library function the CLI command calls (here
   register/views.unit_view, as `register show` does), in open_session (reads) or
   transaction (changes, with actor=principal.login);
4. return what the library returned: the JSON is the CLI's --json.
Errors (NotFound, ValidationError, NotPermitted, …) are raised as they are: app.py turns them
into JSON with a code and a Swedish message."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy.engine import Engine

from ....access.acting import acting_as
from ....access.policy import Action, Principal
from ....register import service
from ....register.views import unit_view
from ....storage import open_session
from ...deps import get_engine, require

router = APIRouter(tags=["register"])


@router.get("/units/{unit_id}", response_model=dict[str, Any], responses={404: {}, 401: {}, 403: {}})
def get_unit(unit_id: str = Path(min_length=1, max_length=100), engine: Engine = Depends(get_engine),
             principal: Principal = Depends(require(Action.REGISTER_READ))):
    """One unit as `placering register show UNIT_ID --json` shows it (a protected address's
    location left out)."""
    with acting_as(principal), open_session(engine) as session:
        unit = service.get_unit(session, unit_id)
        return unit_view(session, unit, show_protected=False)
