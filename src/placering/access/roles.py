"""Roles and database privileges on the shared PostgreSQL server: only the service writes.

The application server (`placering serve`) is the only writer. It connects as ONE service login,
a member of the group role `placering_service`, which holds the write privileges the library
needs. People sign in to the server (access/policy.py decides what each may do) and every change
goes through the same library functions, inside `acting_as(principal)`: on PostgreSQL each
transaction then names the signed-in person (set_config('placering.login' | 'placering.roles' |
'placering.municipality', …, true); storage/database.py), and the database keys on it:

- row-level security narrows a social worker's work to its municipality's cases, also when the
  service does it for them (defence in depth behind policy.py);
- the history trigger accepts a history entry from the service login only under the signed-in
  person's name; history is append-only for everyone (UPDATE, DELETE and TRUNCATE refused);
- a snapshot blob whose content does not match its sha256 is refused;
- a unit's free places change only together with placements that take or free them (a deferred
  check at commit, below), also for the service login and the installation superuser.

People's own database logins (`placering_<role>` group roles), kept for their own SQL reports,
read only: SELECT through row-level security; nobody's login reads the accounts, tokens or
sign-in failures (admin: the accounts' columns that hold no secret). The tables, views and
functions belong to the NOLOGIN role `placering_owner`; the installation superuser (or a member of
`placering_owner`) runs `placering init`, which re-applies all of this after every upgrade and
revokes whatever an earlier version granted (people's INSERT/UPDATE/DELETE, the admins'
ownership, CREATE on the schema and CREATEROLE). Group roles are cluster-wide (several databases on
one server share them); creating one tolerates another session creating it at the same moment.

The embedded SQLite register is single-user: none of this applies there.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING

from ..errors import NotPermitted
from ..i18n import msg

# Start-up: the roles, their names and who writes (`writes_as_read`, the `--by` of every command)
# load no SQLAlchemy; the functions that change the database's privileges import it (below).
if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..storage.reads import Reader


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


SERVICE = PREFIX + "service"  # the application server's login is a member: the one writer
OWNER = PREFIX + "owner"  # owns tables, views and functions; the installer runs `init` with it

ALL = tuple(Role)
STAFF = tuple(r for r in Role if r is not Role.SOCIAL_WORKER)  # see every municipality
# The roles that wrote through their own logins before the application server (issue 17):
# `init` revokes what they were granted (every role now reads only).
WRITERS = (Role.HANDLER, Role.SOCIAL_WORKER, Role.MAINTAINER, Role.PROCUREMENT, Role.REVIEWER, Role.ADMIN)

S, I, U, D = "SELECT", "INSERT", "UPDATE", "DELETE"
# The service's privileges per table; any other table: SELECT, INSERT, UPDATE, DELETE.
SERVICE_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "history": (S, I),  # append-only: the triggers below refuse UPDATE, DELETE and TRUNCATE too
    "alembic_version": (S,),  # the schema changes by `init` only
    # units are never deleted (a removed unit is a status): no way round the free-places check
    # by deleting a unit and inserting it again with other free places
    "unit": (S, I, U),
    # written once (matching/snapshots.py); a row whose content fails its check is discarded
    # (DELETE) and built again
    "register_snapshot": (S, I, D),
    "snapshot_blob": (S, I, D),
    "rule_set": (S, I, D),
    # who read a protected case (issue 20 item 11): a log, appended to and never changed
    "case_access_log": (S, I),
}
REGISTER = ("supplier", "unit", "offer", "unit_route", "permit", "supplier_check", "complaint",
            "deepened_control", "agreement_followup", "visit", "proposal")
CASES = ("placement_request", "decision", "decline", "placement", "review", "placement_agreement",
         "placement_survey")
# Accounts, tokens and sign-in failures (the application server's): no person's login reads
# them, except an admin the columns that hold no secret.
ACCOUNTS = ("user_account", "api_token", "signin_failure", "device_authorization")
# The free-places check's per-transaction bookkeeping (below): nobody's but the owner's.
LEDGER = "placering_places_change"
# Column names no person's login reads, in any table (password and token hashes).
SECRET = re.compile(r"hash|password|secret|token|salt", re.I)
# What a social worker reads: the register (to match), its own cases and their history.
SOCIAL_WORKER_READS = set(REGISTER) | set(CASES) | {"history", "alembic_version", "register_snapshot",
                                                     "snapshot_blob", "rule_set"}

# Row-level security: whose cases. `{m}` is the municipality (a social worker's login: its
# user_account row; the service: the signed-in person's).
CASE_SCOPE = {
    "placement_request": "municipality = {m}",
    "placement": "municipality = {m}",
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
MY_MUNICIPALITY = "(SELECT placering_login_municipality())"
ACTING_SCOPE = "(SELECT placering_acting_scope())"

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

# (name, definition). Functions read by policies and triggers; the SECURITY DEFINER ones run as
# placering_owner, so a person's login needs no privilege on what they read or write.
_FUNCTIONS = {
    # A person's own login: its municipality (user_account), which its login cannot read.
    "placering_login_municipality": """
CREATE OR REPLACE FUNCTION placering_login_municipality() RETURNS text LANGUAGE sql STABLE
SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT a.municipality FROM user_account a WHERE a.login = session_user::text
$$""",
    # The person the service works for in this transaction (access.acting), or NULL.
    "placering_acting_login": """
CREATE OR REPLACE FUNCTION placering_acting_login() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting('placering.login', true), '')
$$""",
    # Whose cases the service sees in this transaction: NULL for every municipality (no person
    # signed in: the service's own work; or a person with any role but social worker), else
    # the social worker's municipality ('' when it has none: no cases at all).
    "placering_acting_scope": """
CREATE OR REPLACE FUNCTION placering_acting_scope() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN NULLIF(current_setting('placering.login', true), '') IS NULL THEN NULL
    WHEN EXISTS (SELECT 1 FROM unnest(string_to_array(current_setting('placering.roles', true), ',')) r
                 WHERE r <> 'social_worker' AND r <> '') THEN NULL
    ELSE COALESCE(current_setting('placering.municipality', true), '')
  END
$$""",
    # Who makes a change: the signed-in person when the service writes, else the login.
    "placering_actor": """
CREATE OR REPLACE FUNCTION placering_actor() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN pg_has_role(session_user, '""" + SERVICE + """', 'MEMBER')
              THEN NULLIF(current_setting('placering.login', true), '') ELSE session_user::text END
$$""",
    "placering_history_actor": """
CREATE OR REPLACE FUNCTION placering_history_actor() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  acting text := NULLIF(current_setting('placering.login', true), '');
BEGIN
  -- The installation account (a superuser, which could write anything anyway) names the
  -- person it acts for, as scripts and `init --demo` do.
  IF COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
    RETURN NEW;
  END IF;
  IF NOT pg_has_role(session_user, '""" + SERVICE + """', 'MEMBER') THEN
    RAISE EXCEPTION 'history is written by the application server only, not by the login %%', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- The service writes under the signed-in person's name, and only under it.
  IF acting IS NULL THEN
    RAISE EXCEPTION 'history actor %% is not the signed-in person: no person is signed in for this transaction', NEW.actor
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.actor IS DISTINCT FROM acting THEN
    RAISE EXCEPTION 'history actor %% is not the signed-in person %%', NEW.actor, acting
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$""",
    "history_append_only": """
CREATE OR REPLACE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'history is append-only'; END $$""",
    # A stored candidate list is its sha256: anything else is refused.
    "placering_blob_digest": """
CREATE OR REPLACE FUNCTION placering_blob_digest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.digest IS DISTINCT FROM encode(sha256(NEW.data), 'hex') THEN
    RAISE EXCEPTION 'snapshot blob %% does not match its content (sha256 %%)', NEW.digest, encode(sha256(NEW.data), 'hex')
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$""",
    # Free places change only through placements. Each change of a unit's places or free places,
    # and each placement that starts or stops taking places (active or pending review, not
    # ended), is written to the transaction's ledger; at commit (a deferred constraint trigger)
    # every unit's change of occupied places (places − free places) must lie between what its
    # placements took minus what they freed, and what they took: taking takes exactly; freeing
    # frees at most the places freed (never above the unit's places: decisions.free_places).
    # A capacity change (places) moves free places along; `update unit set free_places = 99`
    # has no placement behind it and is refused.
    "placering_unit_places": """
CREATE OR REPLACE FUNCTION placering_unit_places() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO """ + LEDGER + """ (tx, unit_id, occupied)
  VALUES (txid_current(), NEW.unit_id, (NEW.places - NEW.free_places) - (OLD.places - OLD.free_places));
  RETURN NULL;
END $$""",
    "placering_placement_places": """
CREATE OR REPLACE FUNCTION placering_placement_places() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  before int := 0;
  after int := 0;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.end_on IS NULL AND OLD.status IN ('active', 'pending_review') THEN
    before := OLD.places;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.end_on IS NULL AND NEW.status IN ('active', 'pending_review') THEN
    after := NEW.places;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.unit_id = NEW.unit_id THEN
    IF after > before THEN
      INSERT INTO """ + LEDGER + """ (tx, unit_id, taken) VALUES (txid_current(), NEW.unit_id, after - before);
    ELSIF after < before THEN
      INSERT INTO """ + LEDGER + """ (tx, unit_id, freed) VALUES (txid_current(), NEW.unit_id, before - after);
    END IF;
  ELSE
    IF before > 0 THEN
      INSERT INTO """ + LEDGER + """ (tx, unit_id, freed) VALUES (txid_current(), OLD.unit_id, before);
    END IF;
    IF after > 0 THEN
      INSERT INTO """ + LEDGER + """ (tx, unit_id, taken) VALUES (txid_current(), NEW.unit_id, after);
    END IF;
  END IF;
  RETURN NULL;
END $$""",
    "placering_places_check": """
CREATE OR REPLACE FUNCTION placering_places_check() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT unit_id, sum(occupied) AS occupied, sum(taken) AS taken, sum(freed) AS freed
           FROM """ + LEDGER + """ WHERE tx = txid_current() GROUP BY unit_id ORDER BY unit_id LOOP
    IF r.occupied > r.taken OR r.occupied < r.taken - r.freed THEN
      RAISE EXCEPTION 'the free places of unit %% changed by %% without placements taking or freeing them (placements took %%, freed %%): free places change only through placements', r.unit_id, -r.occupied, r.taken, r.freed
        USING ERRCODE = 'check_violation';
    END IF;
  END LOOP;
  DELETE FROM """ + LEDGER + """ WHERE tx = txid_current();
  RETURN NULL;
END $$""",
}

# (table, trigger name, definition)
_TRIGGERS = (
    ("history", "history_actor_is_login", "BEFORE INSERT ON history FOR EACH ROW EXECUTE FUNCTION placering_history_actor()"),
    ("history", "history_append_only", "BEFORE UPDATE OR DELETE ON history FOR EACH ROW EXECUTE FUNCTION history_append_only()"),
    ("history", "history_no_truncate", "BEFORE TRUNCATE ON history FOR EACH STATEMENT EXECUTE FUNCTION history_append_only()"),
    ("snapshot_blob", "snapshot_blob_digest",
     "BEFORE INSERT OR UPDATE ON snapshot_blob FOR EACH ROW EXECUTE FUNCTION placering_blob_digest()"),
    ("unit", "unit_places_change",
     "AFTER UPDATE OF places, free_places ON unit FOR EACH ROW WHEN (OLD.places IS DISTINCT FROM NEW.places "
     "OR OLD.free_places IS DISTINCT FROM NEW.free_places) EXECUTE FUNCTION placering_unit_places()"),
    ("placement", "placement_places_change",
     "AFTER INSERT OR UPDATE OR DELETE ON placement FOR EACH ROW EXECUTE FUNCTION placering_placement_places()"),
    ("unit", "unit_places_check",
     "AFTER UPDATE OF places, free_places ON unit DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN "
     "(OLD.places IS DISTINCT FROM NEW.places OR OLD.free_places IS DISTINCT FROM NEW.free_places) "
     "EXECUTE FUNCTION placering_places_check()"),
    ("placement", "placement_places_check",
     "AFTER INSERT OR UPDATE OR DELETE ON placement DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
     "EXECUTE FUNCTION placering_places_check()"),
)


class InstallerRequired(NotPermitted):
    """Schema, privileges and policies are changed by the installation account only."""


def require_installer(conn: Connection) -> None:
    from sqlalchemy import text

    """`init` on PostgreSQL: the installation superuser, or a member of placering_owner."""
    if conn.dialect.name != "postgresql":
        return
    login, superuser, owner = conn.execute(text(
        "SELECT current_user::text, COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false), "
        f"EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER}') AND pg_has_role(current_user, '{OWNER}', 'MEMBER')"
    )).one()
    if not (superuser or owner):
        raise InstallerRequired(msg("access.init_needs_installer", owner=OWNER, login=login))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(out: list[str], table: str, role: str, columns: list[str] | None) -> None:
    cols = f" ({', '.join(_ident(c) for c in columns)})" if columns is not None else ""
    out.append(f"GRANT SELECT{cols} ON {_ident(table)} TO {role}")


def _policy(out: list[str], table: str, name: str, sql: str) -> None:
    out.append(f'DROP POLICY IF EXISTS {name} ON {_ident(table)}')
    out.append(f"CREATE POLICY {name} ON {_ident(table)} {sql}")


# The schema's tables and their columns (in order), as sqlalchemy's inspector lists them: one query.
_COLUMNS = ("SELECT c.relname, a.attname FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid "
            "AND a.attnum > 0 AND NOT a.attisdropped WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind IN ('r', 'p') ORDER BY c.relname, a.attnum")
# Who owns the tables and the functions (`_owner`): one query.
_OWNERS = ("SELECT 'table', relname, pg_get_userbyid(relowner) FROM pg_class WHERE relkind = 'r' "
           "AND relnamespace = 'public'::regnamespace UNION ALL SELECT 'function', proname, pg_get_userbyid(proowner) "
           "FROM pg_proc WHERE pronamespace = 'public'::regnamespace")


def apply_security(conn: Connection) -> None:
    """Create the group roles, grants, row-level security policies and triggers; revoke what an
    earlier version granted. Idempotent; never drops data.

    A few catalogue reads, then every statement in one batch (one round trip: a fresh database's
    `init` ran some 300 statements one by one)."""
    from sqlalchemy import text

    if conn.dialect.name != "postgresql":
        return
    require_installer(conn)
    superuser, admin_exists = conn.exec_driver_sql(
        "SELECT COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false), "
        f"EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{pg_role(Role.ADMIN)}')").one()
    columns_of: dict[str, list[str]] = {}
    for table, column in conn.exec_driver_sql(_COLUMNS):
        columns_of.setdefault(table, [])
        if column is not None:
            columns_of[table].append(column)
    owners: dict[tuple[str, str], str] = {}
    for kind, name, owner in conn.exec_driver_sql(_OWNERS):
        owners.setdefault((kind, name), owner)
    out: list[str] = []
    for name in (*(pg_role(r) for r in Role), SERVICE, OWNER):
        out.append(_CREATE_ROLE.format(name=name).strip().removesuffix(";"))
    out.append(f"CREATE UNLOGGED TABLE IF NOT EXISTS {LEDGER} (tx bigint NOT NULL, unit_id text NOT NULL, "
               "occupied integer NOT NULL DEFAULT 0, taken integer NOT NULL DEFAULT 0, "
               "freed integer NOT NULL DEFAULT 0)")
    out.append(f"CREATE INDEX IF NOT EXISTS {LEDGER}_tx ON {LEDGER} (tx)")
    tables = set(columns_of) | {LEDGER}
    people = [pg_role(r) for r in Role]
    everyone = ", ".join([*people, SERVICE])
    for table in sorted(tables):
        # Exactly the grants below, however often this runs (GRANT alone only ever adds): an
        # earlier version's INSERT/UPDATE/DELETE for people's roles go here.
        out.append(f"REVOKE ALL ON {_ident(table)} FROM PUBLIC, {everyone}")
        if table == LEDGER:
            continue
        privileges = SERVICE_PRIVILEGES.get(table, (S, I, U, D))
        out.append(f"GRANT {', '.join(privileges)} ON {_ident(table)} TO {SERVICE}")
        columns = columns_of[table]
        open_columns = [c for c in columns if not SECRET.search(c)]
        readable = None if open_columns == columns else open_columns
        for role in ALL:
            if table in ACCOUNTS and role is not Role.ADMIN:
                continue
            if role is Role.SOCIAL_WORKER and table not in SOCIAL_WORKER_READS:
                continue
            _select(out, table, pg_role(role), open_columns if table in ACCOUNTS else readable)
    out.append(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, {', '.join(people)}")
    out.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {SERVICE}")
    if superuser:
        # What the previous version gave admins: CREATE on the schema (they ran `init`) and
        # CREATEROLE (they added people's logins). With CREATEROLE a login could make itself a
        # member of placering_service, so it goes from every non-superuser admin login.
        out.append(f"REVOKE CREATE ON SCHEMA public FROM {pg_role(Role.ADMIN)}")
        # (No admin role yet: the batch creates it, without members.)
        for (login,) in conn.execute(text(
                "SELECT u.rolname FROM pg_roles u WHERE u.rolcreaterole AND NOT u.rolsuper AND u.rolname <> current_user "
                "AND pg_has_role(u.oid, :admin, 'MEMBER')"), {"admin": pg_role(Role.ADMIN)}) if admin_exists else ():
            out.append(f"ALTER ROLE {_ident(login)} NOCREATEROLE")
        out.append(f"GRANT CREATE, USAGE ON SCHEMA public TO {OWNER}")

    out.extend(_FUNCTIONS.values())

    staff = ", ".join(pg_role(r) for r in STAFF)
    for table, scope in CASE_SCOPE.items():
        if table not in tables:
            continue
        out.append(f"ALTER TABLE {_ident(table)} ENABLE ROW LEVEL SECURITY")
        # an earlier version's write policies for people's roles
        out.append(f"DROP POLICY IF EXISTS staff_all_rows ON {_ident(table)}")
        _policy(out, table, "staff_read", f"FOR SELECT TO {staff} USING (true)")
        mine = scope.format(m=MY_MUNICIPALITY)
        _policy(out, table, "own_municipality", f"FOR SELECT TO {pg_role(Role.SOCIAL_WORKER)} USING ({mine})")
        acting = f"{ACTING_SCOPE} IS NULL OR ({scope.format(m=ACTING_SCOPE)})"
        _policy(out, table, "service_acting", f"FOR ALL TO {SERVICE} USING ({acting}) WITH CHECK ({acting})")
    if "review" in tables:
        # A reviewer never decides a case they matched or chose themselves (whatever else they
        # are): the signed-in person, when the service writes for them.
        _policy(out, "review", "not_own_case",
                "AS RESTRICTIVE FOR UPDATE TO PUBLIC USING ("
                "NOT EXISTS (SELECT 1 FROM decision d WHERE d.request_id = review.request_id "
                "AND d.created_by = placering_actor()) "
                "AND NOT EXISTS (SELECT 1 FROM placement p WHERE p.request_id = review.request_id "
                "AND p.by = placering_actor()))")
    for table, name, sql in _TRIGGERS:
        if table not in tables:
            continue
        out.append(f"DROP TRIGGER IF EXISTS {name} ON {_ident(table)}")
        constraint = "CONSTRAINT " if "DEFERRABLE" in sql else ""
        out.append(f"CREATE {constraint}TRIGGER {name} {sql}")
    _shared_views(out, tables, columns_of)
    # Owned by placering_owner, a role no person's login is a member of: an owner could grant
    # itself anything, switch row-level security off or drop the history triggers.
    for table in sorted(tables):
        if owners.get(("table", table)) != OWNER:
            out.append(f"ALTER TABLE {_ident(table)} OWNER TO {OWNER}")
    for fn in _FUNCTIONS:
        if owners.get(("function", fn)) != OWNER:
            out.append(f"ALTER FUNCTION {fn}() OWNER TO {OWNER}")
    # One batch without parameters: the simple protocol runs it statement by statement, in this
    # transaction. The statements were written for the driver's parameter escaping (%% for %).
    batch = ";\n".join(out).replace("%%", "%") + ";"
    conn.execution_options(no_parameters=True).exec_driver_sql(batch)


# What matching needs to see whole, whoever matches: a social worker's view of history and
# placements is limited to its municipality, but the register revision (which keys the stored
# register snapshots) and the final prices of direct-procurement placements (the reference
# price) are the same for everyone, and so is which suppliers a register change touched (a
# snapshot of the next revision re-reads only them). A view runs with its owner's rights
# (placering_owner, the tables' owner), so row-level security does not narrow these; they show
# nothing else.
REVISION_VIEW = "placering_register_revision"
CHANGES_VIEW = "placering_register_changes"
FINAL_PRICES_VIEW = "placering_final_prices"


def _shared_views(out: list[str], tables: set[str], columns_of: dict[str, list[str]]) -> None:
    names = ", ".join([*(pg_role(r) for r in Role), SERVICE])
    views = {}
    if "history" in tables:  # keep in step with storage.history.current_revision
        views[REVISION_VIEW] = ("SELECT COALESCE((SELECT id FROM history WHERE NOT (entity_kind = 'request' "
                                "AND action = 'matched') ORDER BY id DESC LIMIT 1), 0) AS revision")
        # Which suppliers a register change touched (matching/snapshots.changed_suppliers):
        # kind, supplier and unit only, never what changed or who changed it.
        views[CHANGES_VIEW] = ("SELECT id, entity_kind, org_nr, unit_id FROM history WHERE NOT "
                               "(entity_kind = 'request' AND action = 'matched')")
    columns = set(columns_of.get("placement", ())) if "placement" in tables else set()
    if {"agreed_price", "status", "route"} <= columns:  # keep in step with RegisterSnapshot.load_final_prices
        views[FINAL_PRICES_VIEW] = ("SELECT insats, start_on, COALESCE(agreed_price, daily_price) AS price "
                                    "FROM placement WHERE route = 'direktupphandling' AND status = 'active'")
    for view, sql in views.items():
        out.append(f"CREATE OR REPLACE VIEW {view} AS {sql}")
        out.append(f"ALTER VIEW {view} OWNER TO {OWNER}")
        out.append(f"GRANT SELECT ON {view} TO {names}")


def _owner(conn: Connection, name: str, kind: str) -> str | None:
    from sqlalchemy import text

    sql = ("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = :n AND relkind = 'r' "
           "AND relnamespace = 'public'::regnamespace" if kind == "table" else
           "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = :n AND pronamespace = 'public'::regnamespace")
    return conn.execute(text(sql), {"n": name}).scalar()


def session_login(conn: Connection) -> tuple[str, bool]:
    """(the session's authenticated login, whether it is a superuser)."""
    from sqlalchemy import text

    login, superuser = conn.execute(text(_SESSION_LOGIN)).one()
    return login, bool(superuser)


def login_info(conn: Connection) -> tuple[str, bool, list[str]]:
    """(login, is superuser, placering roles) of the session's authenticated login."""
    login, superuser = session_login(conn)
    return login, superuser, roles_of(conn, login)


def login_read(reader: Reader) -> tuple[str, bool, list[str], str]:
    """(login, is superuser, placering roles, how it may write: `writes_as`'s kind) of the
    session's authenticated login, through the database's own driver (storage.reads), in one
    round trip: `login_info` and `writes_as` without SQLAlchemy."""
    (who,), roles = reader.many([(WRITES_AS, None), (_ROLES_OF.replace(":login", "session_user::text"),
                                                     {"prefix": _ROLES_PREFIX})])
    login, kind = _writes_as(*who)
    return login, bool(who[1]), _placering_roles(r[0] for r in roles), kind


def admin_login(principal, postgresql: bool, info) -> str:
    """The one decision who may manage users and tokens (`users.require_admin`, and the admin
    lists read without SQLAlchemy, access/reads.py): the signed-in person when one is acting
    (the server), else the database login on PostgreSQL (`info()`: its login, superuser flag
    and placering roles, as `login_info` or `login_info_read` read them), else the local user
    (SQLite, every role). Returns their name; refuses anyone else."""
    from ..i18n import label_list as labels

    if principal is not None and principal.via != "cli-local":
        from .policy import Action, authorize

        if not principal.roles & {Role.ADMIN}:
            held = sorted(r.value for r in principal.roles)
            raise NotPermitted(msg("user.admin_only", login=principal.login, roles=labels(held, "role"))
                               if held else msg("user.admin_only_no_role", login=principal.login))
        authorize(principal, Action.ADMIN_USERS)
        return principal.login
    if not postgresql:
        return principal.login if principal is not None else "lokal"
    login, superuser, roles = info()
    if not superuser and Role.ADMIN.value not in roles:
        raise NotPermitted(msg("user.admin_only_login", login=login, roles=labels(roles, "role")) if roles
                           else msg("user.admin_only_login_no_role", login=login))
    return login


_SESSION_LOGIN = ("SELECT session_user::text, COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), "
                  "false)")
_ROLES_OF = ("SELECT g.rolname FROM pg_roles g WHERE g.rolname LIKE :prefix "
             "AND pg_has_role(:login, g.oid, 'MEMBER') ORDER BY g.rolname")
_ROLES_PREFIX = PREFIX.replace("_", r"\_") + "%"


def _placering_roles(names) -> list[str]:
    return [r[len(PREFIX):] for r in names if r[len(PREFIX):] in Role._value2member_map_]


def roles_of(conn: Connection, login: str) -> list[str]:
    """The placering roles the login holds (directly or through another role)."""
    from sqlalchemy import text

    rows = conn.execute(text(_ROLES_OF), {"prefix": _ROLES_PREFIX, "login": login}).scalars()
    return _placering_roles(rows)


# Who the session's login is and how it may write (`writes_as`, `writes_as_read`): one query.
WRITES_AS = ("SELECT session_user::text, COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false), "
             f"EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVICE}') AND pg_has_role(session_user, '{SERVICE}', 'MEMBER')")


def _writes_as(login: str, superuser: bool, service: bool) -> tuple[str, str]:
    return login, "superuser" if superuser else "service" if service else "person"


def writes_as(conn: Connection) -> tuple[str, str]:
    """(the session's login, how it may write): 'superuser' (the installation account: names
    the person with --by), 'service' (a member of placering_service: names the person with --by,
    recorded under that name), or 'person' (a person's own login: reads only)."""
    from sqlalchemy import text

    return _writes_as(*conn.execute(text(WRITES_AS)).one())


def writes_as_read(reader: Reader) -> tuple[str, str]:
    """`writes_as` through the database's own driver (storage.reads: the `--by` of a command,
    resolved without SQLAlchemy)."""
    return _writes_as(*reader.rows(WRITES_AS)[0])


def people_read_only(login: str):
    """The refusal a person's own database login meets when it tries to write."""
    from ..i18n import msg

    return msg("login.reads_only", login=login)
