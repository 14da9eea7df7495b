"""The web form's own request ids are never refused as personal identity numbers (a hex
suffix made 1 in 15 of them look like one, and the person's request was refused)."""
from datetime import date, timedelta

from placering.boundary import contains_personnummer
from placering.web.pages_handler import new_request_id


def test_web_request_ids_never_look_like_a_personal_identity_number():
    day = date(2026, 1, 1)
    for i in range(366):
        for _ in range(30):
            rid = new_request_id(day + timedelta(days=i))
            assert rid.startswith("W-") and not contains_personnummer(rid), rid
