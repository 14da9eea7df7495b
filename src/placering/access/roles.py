"""Roles on the shared PostgreSQL server: what each may do, enforced by PostgreSQL itself.

Each person connects as their own database login. A role is a PostgreSQL group role
(`placering_<role>`, NOLOGIN) holding GRANTs on the tables; a person's login is a member of one
or more of them. Row-level security limits a social worker to the requests, decisions,
placements, declines and reviews of the municipality recorded for their login in
`user_account`. A trigger refuses a history entry whose actor is not the login that writes it.

`apply_security(connection)` sets all of this up. It is idempotent and never drops data: the
migration that introduced roles runs it, and `upgrade()` runs it again after every upgrade so
tables added by later migrations get their grants. Group roles are cluster-wide (several
databases on one server share them); creating one tolerates another session creating it at the
same moment.

The embedded SQLite register is single-user: none of this applies there.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection


class Role(StrEnum):
    HANDLER = "handler"  # Spink: match, decline, choose, end, for every municipality
    SOCIAL_WORKER = "social_worker"  # one municipality: its own requests, decisions, placements
    MAINTAINER = "maintainer"  # Spink quality and control: unit status, checks, permits, ...
    PROCUREMENT = "procurement"  # INK: framework agreements, order stop, entry checks
    REVIEWER = "reviewer"  # direct-procurement review, never of a case they decided or chose
    AUDITOR = "auditor"  # reads everything, history included; writes nothing
    ADMIN = "admin"  # users, roles, init, rules deployment


ROLE_DESCRIPTIONS = {
    Role.HANDLER: "match, decline, choose and end placements for every municipality",
    Role.SOCIAL_WORKER: "match, read, choose and decline the requests of one municipality",
    Role.MAINTAINER: "unit status, recommendation stop, checks, permits, complaints, visits, proposals, import",
    Role.PROCUREMENT: "framework agreements (order stop, termination), framework entry checks",
    Role.REVIEWER: "approve or reject direct-procurement reviews (never of a case they decided or chose)",
    Role.AUDITOR: "read everything, history included; write nothing",
    Role.ADMIN: "users and roles, init (schema upgrades), rules deployment; everything",
}

PREFIX = "placering_"


def pg_role(role: Role | str) -> str:
    return PREFIX + Role(role).value


ALL = tuple(Role)
STAFF = tuple(r for r in Role if r is not Role.SOCIAL_WORKER)  # see every municipality
WRITERS = (Role.HANDLER, Role.SOCIAL_WORKER, Role.MAINTAINER, Role.PROCUREMENT, Role.REVIEWER, Role.ADMIN)

# Privileges per table and role (admin has every privilege on every table). A table added
# later and not listed here is readable by staff and writable by admin only, until it is listed.
S, I, U, D = "SELECT", "INSERT", "UPDATE", "DELETE"
REGISTER = {
    "supplier": {Role.MAINTAINER: (I, U)},
    # choose and end take and free places; a rejected review frees its placement's places
    "unit": {Role.MAINTAINER: (I, U), Role.HANDLER: ("UPDATE (free_places)",),
             Role.SOCIAL_WORKER: ("UPDATE (free_places)",), Role.REVIEWER: ("UPDATE (free_places)",)},
    "offer": {Role.MAINTAINER: (I, U, D)},
    "unit_route": {Role.MAINTAINER: (I, U, D), Role.PROCUREMENT: ("UPDATE (status)",)},
    "permit": {Role.MAINTAINER: (I, U, D)},
    "supplier_check": {Role.MAINTAINER: (I,), Role.PROCUREMENT: (I,)},
    # complaints about framework suppliers are INK's cases (casework/complaints.py)
    "complaint": {Role.MAINTAINER: (I, U), Role.PROCUREMENT: (I, U)},
    "deepened_control": {Role.MAINTAINER: (I, U)},  # decided by the quality and control team
    "agreement_followup": {Role.PROCUREMENT: (I,)},  # INK follows up framework agreements
    "visit": {Role.MAINTAINER: (I,)},
    "proposal": {Role.MAINTAINER: (I, U), Role.PROCUREMENT: (I,)},
}
CASES = {  # row-level security: a social worker's municipality only
    "placement_request": {Role.HANDLER: (I, U), Role.SOCIAL_WORKER: (I, U)},
    "decision": {Role.HANDLER: (I, U), Role.SOCIAL_WORKER: (I, U)},
    "decline": {Role.HANDLER: (I,), Role.SOCIAL_WORKER: (I,)},
    "placement": {Role.HANDLER: (I, U), Role.SOCIAL_WORKER: (I, U), Role.REVIEWER: ("UPDATE (status)", D)},
    "review": {Role.HANDLER: (I,), Role.SOCIAL_WORKER: (I,), Role.REVIEWER: ("UPDATE (status, reviewer, note, decided_at)",)},
    # the placement agreement and the three-month survey are the placing municipality's
    "placement_agreement": {Role.HANDLER: (I, U), Role.SOCIAL_WORKER: (I, U)},
    "placement_survey": {Role.HANDLER: (I,), Role.SOCIAL_WORKER: (I,)},
}
OTHER = {
    "history": {r: (I,) for r in WRITERS},  # append-only: triggers refuse UPDATE and DELETE
    "user_account": {},
    "alembic_version": {},
    # written once by whoever matches (or re-checks a choice) first at a register revision /
    # rules version (matching/snapshots.py)
    "register_snapshot": {r: (I,) for r in WRITERS},
    "snapshot_blob": {r: (I,) for r in WRITERS},
    "rule_set": {r: (I,) for r in WRITERS},
    # Who read a protected case: every reader logs its own reading (auditors too); grants of
    # time-limited access are the handlers' (issue 20 item 11)
    "case_access_log": {r: (I,) for r in ALL},
    "case_access_grant": {Role.HANDLER: (I,), Role.MAINTAINER: (I,)},
}
PRIVILEGES: dict[str, dict[Role, tuple[str, ...]]] = {**REGISTER, **CASES, **OTHER}
# What a social worker may read: the register (to match), its own cases, history of them.
SOCIAL_WORKER_READS = set(REGISTER) | set(CASES) | {"case_access_grant"} | {"history", "user_account", "alembic_version", "register_snapshot",
                                                     "snapshot_blob", "rule_set"}

# The social worker's municipality (session_user is the authenticated login, whatever role
# the session has switched to).
MY_MUNICIPALITY = "(SELECT a.municipality FROM user_account a WHERE a.login = session_user)"
CASE_SCOPE = {
    "placement_request": f"municipality = {MY_MUNICIPALITY}",
    "placement": f"municipality = {MY_MUNICIPALITY}",
    "decision": "EXISTS (SELECT 1 FROM placement_request r WHERE r.id = decision.request_id)",
    "decline": "EXISTS (SELECT 1 FROM placement_request r WHERE r.id = decline.request_id)",
    "review": "EXISTS (SELECT 1 FROM placement_request r WHERE r.id = review.request_id)",
    "placement_agreement": "EXISTS (SELECT 1 FROM placement p WHERE p.id = placement_agreement.placement_id)",
    "placement_survey": "EXISTS (SELECT 1 FROM placement p WHERE p.id = placement_survey.placement_id)",
    # history of requests and reviews only for the municipality's own; register history is open
    "history": ("CASE entity_kind WHEN 'request' THEN EXISTS (SELECT 1 FROM placement_request r "
                "WHERE r.request_id = history.entity_id) WHEN 'placement' THEN EXISTS (SELECT 1 FROM "
                "placement_request r WHERE r.request_id = history.entity_id) WHEN 'review' THEN EXISTS (SELECT 1 FROM review v "
                "WHERE v.id::text = history.entity_id) ELSE true END"),
}

_CREATE_ROLE = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN
    CREATE ROLE {name} NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;  -- another session created it at the same moment (roles are cluster-wide)
END $$;
"""

_ACTOR_TRIGGER = """
CREATE OR REPLACE FUNCTION placering_history_actor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A person's change is recorded under the login that made it. The installation account
  -- (a superuser, which could write anything anyway) may name the person, as scripts do.
  IF NEW.actor IS DISTINCT FROM session_user::text
     AND NOT COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
    RAISE EXCEPTION 'history actor %% is not the login %% that writes it', NEW.actor, session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
"""


def _grant(conn: Connection, privilege: str, table: str, role: Role) -> None:
    conn.exec_driver_sql(f'GRANT {privilege} ON "{table}" TO {pg_role(role)}')


def apply_security(conn: Connection) -> None:
    """Create the group roles, grants, row-level security policies and the actor trigger."""
    if conn.dialect.name != "postgresql":
        return
    for role in Role:
        conn.exec_driver_sql(_CREATE_ROLE.format(name=pg_role(role)))
    tables = set(inspect(conn).get_table_names())
    names = ", ".join(pg_role(r) for r in Role)
    for table in sorted(tables):
        # Exactly the grants below, however often this runs (GRANT alone only ever adds).
        conn.exec_driver_sql(f'REVOKE ALL ON "{table}" FROM PUBLIC, {names}')
        conn.exec_driver_sql(f'GRANT ALL ON "{table}" TO {pg_role(Role.ADMIN)}')
        for role in ALL:
            if role is Role.SOCIAL_WORKER and table not in SOCIAL_WORKER_READS:
                continue
            _grant(conn, S, table, role)
        for role, privileges in PRIVILEGES.get(table, {}).items():
            for privilege in privileges:
                _grant(conn, privilege, table, role)
    if conn.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar():
        # Admins run later upgrades (`init`): migrations create tables and functions in public.
        conn.exec_driver_sql(f"GRANT CREATE ON SCHEMA public TO {pg_role(Role.ADMIN)}")
    writers = ", ".join(pg_role(r) for r in WRITERS)
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {writers}")

    staff = ", ".join(pg_role(r) for r in STAFF)
    for table, scope in CASE_SCOPE.items():
        if table not in tables:
            continue
        conn.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
        for name, sql in (
            ("staff_all_rows", f'CREATE POLICY staff_all_rows ON "{table}" FOR ALL TO {staff} USING (true) WITH CHECK (true)'),
            ("own_municipality", f'CREATE POLICY own_municipality ON "{table}" FOR ALL TO {pg_role(Role.SOCIAL_WORKER)} '
                                 f"USING ({scope}) WITH CHECK ({scope})"),
        ):
            conn.exec_driver_sql(f'DROP POLICY IF EXISTS {name} ON "{table}"')
            conn.exec_driver_sql(sql)
    if "review" in tables:
        # A reviewer never decides a case they matched or chose themselves (whatever else they are).
        conn.exec_driver_sql('DROP POLICY IF EXISTS not_own_case ON review')
        conn.exec_driver_sql(
            "CREATE POLICY not_own_case ON review AS RESTRICTIVE FOR UPDATE TO PUBLIC USING ("
            "NOT EXISTS (SELECT 1 FROM decision d WHERE d.request_id = review.request_id AND d.created_by = session_user) "
            "AND NOT EXISTS (SELECT 1 FROM placement p WHERE p.request_id = review.request_id AND p.by = session_user))")
    if "history" in tables:
        conn.exec_driver_sql(_ACTOR_TRIGGER)
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS history_actor_is_login ON history")
        conn.exec_driver_sql("CREATE TRIGGER history_actor_is_login BEFORE INSERT ON history "
                             "FOR EACH ROW EXECUTE FUNCTION placering_history_actor()")
    _shared_views(conn, tables)
    # Owned by the admin role, so any admin (not only the superuser who ran the first init) can
    # run `placering init` to upgrade; owners are admins, who see every row anyway.
    admin = pg_role(Role.ADMIN)
    for table in sorted(tables):
        if _owner(conn, table, "table") != admin:
            conn.exec_driver_sql(f'ALTER TABLE "{table}" OWNER TO {admin}')
    for fn in ("placering_history_actor", "history_append_only"):
        owner = _owner(conn, fn, "function")
        if owner is not None and owner != admin:
            conn.exec_driver_sql(f"ALTER FUNCTION {fn}() OWNER TO {admin}")


# What matching needs to see whole, whoever matches: a social worker's view of history and
# placements is limited to its municipality, but the register revision (which keys the stored
# register snapshots) and the final prices of direct-procurement placements (the reference
# price) are the same for everyone, and so is which suppliers a register change touched (a
# snapshot of the next revision re-reads only them). A view runs with its owner's rights
# (placering_admin, the tables' owner), so row-level security does not narrow these; they show
# nothing else.
REVISION_VIEW = "placering_register_revision"
CHANGES_VIEW = "placering_register_changes"
FINAL_PRICES_VIEW = "placering_final_prices"


def _shared_views(conn: Connection, tables: set[str]) -> None:
    admin = pg_role(Role.ADMIN)
    names = ", ".join(pg_role(r) for r in Role)
    views = {}
    if "history" in tables:  # keep in step with storage.history.current_revision
        views[REVISION_VIEW] = ("SELECT COALESCE((SELECT id FROM history WHERE NOT (entity_kind = 'request' "
                                "AND action = 'matched') ORDER BY id DESC LIMIT 1), 0) AS revision")
        # Which suppliers a register change touched (matching/snapshots.changed_suppliers):
        # kind, supplier and unit only, never what changed or who changed it.
        views[CHANGES_VIEW] = ("SELECT id, entity_kind, org_nr, unit_id FROM history WHERE NOT "
                               "(entity_kind = 'request' AND action = 'matched')")
    columns = {c["name"] for c in inspect(conn).get_columns("placement")} if "placement" in tables else set()
    if {"agreed_price", "status", "route"} <= columns:  # keep in step with RegisterSnapshot.load_final_prices
        views[FINAL_PRICES_VIEW] = ("SELECT insats, start_on, COALESCE(agreed_price, daily_price) AS price "
                                    "FROM placement WHERE route = 'direktupphandling' AND status = 'active'")
    for view, sql in views.items():
        conn.exec_driver_sql(f"CREATE OR REPLACE VIEW {view} AS {sql}")
        conn.exec_driver_sql(f"ALTER VIEW {view} OWNER TO {admin}")
        conn.exec_driver_sql(f"GRANT SELECT ON {view} TO {names}")


def _owner(conn: Connection, name: str, kind: str) -> str | None:
    sql = ("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = :n AND relkind = 'r' "
           "AND relnamespace = 'public'::regnamespace" if kind == "table" else
           "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = :n AND pronamespace = 'public'::regnamespace")
    return conn.execute(text(sql), {"n": name}).scalar()


def session_login(conn: Connection) -> tuple[str, bool]:
    """(the session's authenticated login, whether it is a superuser)."""
    login, superuser = conn.execute(text(
        "SELECT session_user::text, COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)"
    )).one()
    return login, bool(superuser)


def login_info(conn: Connection) -> tuple[str, bool, list[str]]:
    """(login, is superuser, placering roles) of the session's authenticated login."""
    login, superuser = session_login(conn)
    return login, superuser, roles_of(conn, login)


def roles_of(conn: Connection, login: str) -> list[str]:
    """The placering roles the login holds (directly or through another role)."""
    rows = conn.execute(text(
        "SELECT g.rolname FROM pg_roles g WHERE g.rolname LIKE :prefix "
        "AND pg_has_role(:login, g.oid, 'MEMBER') ORDER BY g.rolname"
    ), {"prefix": PREFIX.replace("_", r"\_") + "%", "login": login}).scalars()
    return [r[len(PREFIX):] for r in rows if r[len(PREFIX):] in Role._value2member_map_]
