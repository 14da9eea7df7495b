"""compact.json_bytes gives json.dumps's bytes (the stored digests and blobs depend on them),
also for the values orjson writes its own way."""

import enum
import json
from datetime import date, datetime, time, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from placering.matching.compact import entry_json, json_bytes, list_digest


class Code(enum.StrEnum):
    A = "a"


class Rank(enum.IntEnum):
    ONE = 1


VALUES = [
    {"b": 1, "a": [1, 2.5, None, True, False], "å": "ö", "Z": "\u2028\x00\x1f\"\\/é\U0001f600"},
    [9.99e-05, 1e-07, 1.2345e-7, 0.0001, 1e16, 1.5e22, -0.0, 5e-324, 12.0, 0.1],
    [None, float("nan")], {"x": None, "y": float("inf")}, [None, -float("inf")],
    [date(2026, 1, 2), datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
     time(7, 30)],
    [Decimal("1.50"), UUID(int=7), Code.A, Rank.ONE, {1: 2}, 2 ** 70, (1, "t")],
    {"e-post": "a@b.se", "text": "null 0.0000 e-"},
    [],
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("sort_keys,default_str", [(True, True), (False, False)])
def test_json_bytes_are_json_dumps_bytes(value, sort_keys, default_str):
    try:
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys,
                              default=str if default_str else None).encode("utf-8")
    except TypeError:
        with pytest.raises(TypeError):
            json_bytes(value, sort_keys=sort_keys, default_str=default_str)
        return
    assert json_bytes(value, sort_keys=sort_keys, default_str=default_str) == expected


def test_entries_and_digests_as_json_writes_them():
    items = [{"unit_id": "U1", "distance_km": 3.4, "needs": None}, {"unit_id": "U2", "distance_km": float("nan")}]
    text = json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    assert "[" + ",".join(entry_json(i) for i in items) + "]" == text
    import hashlib

    assert list_digest(items) == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
