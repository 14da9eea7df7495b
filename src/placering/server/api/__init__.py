"""The JSON API under /api/v1: one module per resource in api/routes/ (routes stay thin: parse,
authorize through deps.require, call the library function the CLI calls, return its result)."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, Depends

from . import routes
from .models import check_inputs

api_router = APIRouter(dependencies=[Depends(check_inputs)])
# Every module in api/routes/ that defines `router` is part of the API: adding a resource is
# adding a file (no shared list to edit when several people add routes at once).
for _info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{routes.__name__}.{_info.name}")
    if hasattr(_module, "router"):
        api_router.include_router(_module.router)
