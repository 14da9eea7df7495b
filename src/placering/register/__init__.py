"""The supplier register (utförarregister): the interchange schema, import/export (JSON and
CSV), status changes with their authority invariants, and search.

Other modules use the functions of `service` (each takes the caller's session and never commits).
The names below come from `service` on first use: `register.search` (what `register search`
runs) loads neither SQLAlchemy nor the ORM.
"""

from __future__ import annotations

from typing import Any

_SERVICE = ("ImportSummary", "change_agreement_status", "change_unit_status", "export_document", "get_supplier",
            "get_unit", "import_document", "record_check", "record_complaint", "record_permit")
__all__ = list(_SERVICE)


def __getattr__(name: str) -> Any:
    if name in _SERVICE:
        from . import service

        return getattr(service, name)
    raise AttributeError(f"module 'placering.register' has no attribute {name!r}")
