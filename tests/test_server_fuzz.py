"""A property-based fuzz of the API from its own OpenAPI document (schemathesis): every
operation, with generated valid and invalid input, as an admin (the widest access), must answer
without a server error (no 5xx, never a traceback), and a refused request (4xx) must have written
nothing. Bounded (few examples per operation, derandomized) to keep the suite fast."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from conftest import table_counts
from server_support import add_people, settings as server_settings
from placering.access.acting import acting_as
from placering.access.policy import local_principal
from placering.access.tokens import create_token
from placering.server.app import create_app
from placering.storage import make_engine, transaction
from test_matching_support import load_register, unit

EXAMPLES = 10
# Many placement requests at once are JSON lines (POST /api/v1/requests/match): sent as text.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
# Written by design while a request is refused or answered: the failed sign-in (the throttle's
# count) and the caches of matching.
WRITTEN_ANYWAY = ("signin_failure", "register_snapshot", "snapshot_blob", "rule_set")


@pytest.fixture
def fuzz_env(db_url, run, tmp_path):
    load_register(run, tmp_path, unit("U-1", free=2), unit("U-2", "direktupphandling", 1900, insats="socialt_boende",
                                                          age=(18, 65)))
    add_people(db_url, {"ada": (["admin"], None), "sara": (["social_worker"], "Mölndal")})
    engine = make_engine(db_url)
    with acting_as(local_principal("installation")), transaction(engine) as session:
        token = create_token(session, local_principal("installation"), "fuzz", roles=["admin"], days=1)["secret"]
    app = create_app(server_settings(db_url))
    yield {"app": app, "engine": engine, "auth": {"Authorization": f"Bearer {token}"}}
    app.state.engine.dispose()
    engine.dispose()


def _state(engine) -> dict[str, int]:
    return {t: n for t, n in table_counts(engine).items() if t not in WRITTEN_ANYWAY}


def test_the_api_never_fails_and_a_refusal_writes_nothing(fuzz_env):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_env["app"])
    engine, auth = fuzz_env["engine"], fuzz_env["auth"]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures, seen = [], []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case):
            before = _state(engine)
            response = case.call(headers=auth)
            seen.append((operation.path, response.status_code))
            case.validate_response(response, checks=[not_a_server_error])
            assert "Traceback" not in response.text
            if response.status_code >= 400:
                body = response.json()
                assert set(body) >= {"code", "message"}, body
                assert _state(engine) == before, (case.method, case.path, response.status_code)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - every operation is fuzzed; the failures reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    # the fuzz reached every operation, and past the sign-in to real answers
    assert {path for path, _ in seen} == {op.path for op in operations}
    assert sum(1 for _, status in seen if status < 300) >= len(operations) // 2
