"""What a history entry changed, in one line: codes for --csv and --json, Swedish for a person
(field names from `history_field` and values through the label catalogue, locale/sv/LC_MESSAGES/labels.po).
`register history`, `register import --dry-run` and `audit log` print it."""

from __future__ import annotations

from ..labels import catalogue, label


def _short(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{len(value)} item(s)"
    if isinstance(value, list):
        return ";".join(str(v) for v in value) or "[]"
    if isinstance(value, dict):
        return "{…}"
    return str(value)


# Which label kind a changed field's values are, for a person reading history ('status' by entity).
_STATUS_KIND = {"unit": "unit_status", "agreement": "agreement_status", "permit": "permit_status",
                "proposal": "proposal_status", "review": "review_status", "complaint": "complaint_status",
                "control": "control_status", "request": "request_state"}
_FIELD_KIND = {"insats": "insats", "route": "route", "reason": "removal_reason", "removal_reason": "removal_reason",
               "result": "check_result", "category": "complaint_category", "handler": "complaint_handler",
               "genders": "gender", "target_groups": "target_group", "legal_form": "legal_form",
               "scope": "change_scope", "flags": "flag", "roles": "role"}


def _field_kind(key: str, entity_kind: str | None, action: str) -> str | None:
    if key == "status":
        return _STATUS_KIND.get(entity_kind or "")
    if key == "kind":
        return {"check": "check_kind", "proposal": "proposal_kind"}.get(entity_kind or action)
    if key == "reason" and entity_kind == "request":  # a decision ended without execution: why
        return "decision_end_reason"
    if key == "outcome":
        return {"complaint": "complaint_outcome", "control": "control_outcome"}.get(entity_kind or "")
    return _FIELD_KIND.get(key)


HIDDEN = "hidden (protected address)"  # the marker history JSON carries for a protected location


def _people_value(value, kind: str | None) -> str:
    from ..i18n import text

    if value == HIDDEN:
        return text("cli.out.hidden_protected")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        from ..display import fmt_number

        return fmt_number(value)  # 3 230, never Python's 3230 or 3230.0
    if isinstance(value, list) and not value:
        return "–"  # nothing, never Python's []
    if kind is None or value is None or isinstance(value, (dict, bool)):
        if isinstance(value, bool):
            return text("cli.out.yes") if value else text("cli.out.no")
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return text("cli.out.items", count=len(value))
        return "{…}" if isinstance(value, dict) else _short(value)
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return text("cli.out.items", count=len(value))
        return ", ".join(label(v, kind) for v in value) or "–"
    return label(value, kind)


def change_text(changes: dict, action: str, entity_kind: str | None = None, people: bool = False) -> str:
    """What an entry changed, in one line: codes for --csv, labels and Swedish field names for a
    person (people=True)."""
    names = catalogue().get("history_field", {}) if people else {}
    if names:  # the field names in the people's language
        names = {key: label(key, "history_field") for key in changes if key in names}

    def show(key, value):
        return _people_value(value, _field_kind(key, entity_kind, action)) if people else _short(value)

    parts = []
    for key, value in changes.items():
        name = names.get(key, key)
        if isinstance(value, list) and len(value) == 2 and action not in ("check", "complaint"):
            old, new = value
            if action == "created" and old is None:
                if key in ("status", "name"):
                    parts.append(f"{name}: {show(key, new)}")
                continue
            parts.append(f"{name}: {show(key, old)} → {show(key, new)}")
        else:
            # A person reads "insats: HVB barn och unga" (and a terminal may wrap it after the colon).
            parts.append(f"{name}: {show(key, value)}" if people else f"{name}={show(key, value)}")
    return "; ".join(parts)
