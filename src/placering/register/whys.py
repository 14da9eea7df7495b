"""The reasons an import gives for a status it set or kept (the `why` of its summary): --json
keeps these words, a person reads them from the gettext catalogue by `import_why`."""

from __future__ import annotations

from ..i18n import msg

WHY_CREATED = "created"
WHY_NEW_UNIT_PENDING = "new unit of a supplier other than the municipality: enters as pending_entry (entry check)"
WHY_AGREEMENT_DECIDED = "decided in the register (INK); --apply-status to take the file's"
WHY_PERMIT_DECIDED = "IVO's decision; a new permit has a new diary number"
WHY_STATUS_DECIDED = "decided in the register; --apply-status to take the file's"
WHY_FREE_PLACES = "free places change only through placements (choose, end, review)"
_WHY_IDS = {WHY_CREATED: "import.why.created", WHY_NEW_UNIT_PENDING: "import.why.new_unit_pending",
            WHY_AGREEMENT_DECIDED: "import.why.agreement_decided", WHY_PERMIT_DECIDED: "import.why.permit_decided",
            WHY_STATUS_DECIDED: "import.why.status_decided", WHY_FREE_PLACES: "import.why.free_places"}


def import_why(why: str | None):
    """What a person reads for the `why` of an import's status change or kept value: a Message
    for the reasons the import itself gives ('rule X' for a rule's), else the text (a person's
    note) as it is."""
    if why in _WHY_IDS:
        return msg(_WHY_IDS[why])
    if why and why.startswith("rule ") and " " not in why[5:]:
        return msg("rules.record.rule", id=why[5:])
    return why


# The note on a supplier check in a review's list of latest checks.
NOTE_NEVER_CHECKED = "never checked"
NOTE_UNAVAILABLE = "source could not be reached: not a pass"
_NOTE_IDS = {NOTE_NEVER_CHECKED: "review.check_never_checked", NOTE_UNAVAILABLE: "review.check_unavailable"}


def check_note(note: str | None):
    """A review's note on a supplier check as a person reads it (a Message for the review's own)."""
    return msg(_NOTE_IDS[note]) if note in _NOTE_IDS else note
