"""The supplier register (utförarregister): the interchange schema, import/export (JSON and
CSV), status changes with their authority invariants, and search.

Other modules use the functions of `service` (each takes the caller's session and never commits).
"""

from .service import (  # noqa: F401
    ImportSummary,
    change_agreement_status,
    change_unit_status,
    export_document,
    get_supplier,
    get_unit,
    import_document,
    record_check,
    record_complaint,
    record_permit,
)
