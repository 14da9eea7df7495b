"""Read-only answers for auditors from the register's history: paused as of a date, affected
placements, yearly figures, checks and follow-ups due, visit priorities, and the change log.

Nothing here writes. Statuses on a date come from history alone (timeline.py); thresholds come
from dated parameters in rules/parameters/ (params.py).
"""

from __future__ import annotations

import importlib
from typing import Any

# Start-up: each audit imports only its own module (`audit log` needs no dated parameters, say);
# the names below are looked up on first use. `paused` and `visits` are also the names of their
# modules, which an import of the module binds here: import them from `audit.paused` / `audit.visits`.
_NAMES = {"checks_due": "checks", "audit_log": "log", "affected_placements": "placements",
          "permit_states": "timeline", "register_states": "timeline", "adherence": "yearly",
          "direct_procurement": "yearly", "removals": "yearly", "requests": "yearly"}
__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
