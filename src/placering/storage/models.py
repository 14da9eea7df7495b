"""All tables, in one place (the SQLModel way): the register, its history, and the records
that matching, review and audit keep.

Codes are stored as their vocabulary strings (see vocabulary.py); validation happens on the
way in (register/schema.py, matching/request.py), so the tables stay plain and portable
between SQLite and PostgreSQL. Lists of codes are JSON columns.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlalchemy.orm import relationship
from pydantic import ConfigDict
from sqlmodel import Field, Relationship
from sqlmodel import SQLModel as _SQLModel


class SQLModel(_SQLModel):
    # Start-up: pydantic builds a table's validator when one is first needed, not for every
    # table on import (about 0.1 s of every command). Tables share SQLModel.metadata.
    model_config = ConfigDict(defer_build=True)


def utcnow() -> datetime:
    from ..clock import now  # looked up on each call: the one clock (tests pin it)

    return now()


def _json(**kw: Any) -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False), **kw)


class Supplier(SQLModel, table=True):
    """Leverantör: a legal entity, identified by its organisation number."""

    id: Optional[int] = Field(default=None, primary_key=True)
    org_nr: str = Field(index=True, unique=True, max_length=11)  # canonical NNNNNN-NNNN
    name: str
    name_key: str = Field(index=True)  # fold(name): Swedish-aware comparison
    legal_form: str
    created_at: datetime = Field(default_factory=utcnow)


class Unit(SQLModel, table=True):
    """Verksamhet: a home or service at a place, run by one supplier."""

    id: Optional[int] = Field(default=None, primary_key=True)
    unit_id: str = Field(index=True, unique=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    name: str
    name_key: str = Field(index=True)
    municipality: str
    municipality_key: str = Field(index=True)
    lat: Optional[float] = None
    lon: Optional[float] = None
    protected_address: bool = False
    places: int
    free_places: int
    age_min: int
    age_max: int
    genders: list[str] = _json()
    target_groups: list[str] = _json()
    status: str = Field(index=True)
    removal_reason: Optional[str] = None
    status_note: Optional[str] = None  # why the unit has its current status (migration 0002)
    created_at: datetime = Field(default_factory=utcnow)


class Offer(SQLModel, table=True):
    """An insats a unit offers, with the sub-categories it takes."""

    __table_args__ = (UniqueConstraint("unit_id", "insats"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    insats: str = Field(index=True)
    subcategories: list[str] = _json()
    position: int = 0  # order in the interchange document, kept for exact round-trips


class UnitRoute(SQLModel, table=True):
    """How the city reaches a unit for one insats: egen regi, ramavtal, IOP or direct procurement.

    A framework agreement (ramavtal) may cover several units; its status, validity and buyers
    are the same on each of its routes (import checks that), and `register agreement` changes
    them together.
    """

    __tablename__ = "unit_route"
    id: Optional[int] = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    route: str
    insats: str = Field(index=True)
    agreement_id: Optional[str] = Field(default=None, index=True)
    daily_price: Optional[float] = None
    valid_from: Optional[date] = None
    valid_to: Optional[date] = None
    buyers: list[str] = _json()
    status: str = "active"
    reserved_nonprofit: bool = False
    # The day the price was last confirmed as current (004 l. 1202-1203); None: never stated.
    price_confirmed_on: Optional[date] = None
    position: int = 0


class Permit(SQLModel, table=True):
    """An IVO permit (tillstånd) or notification (anmälan) for one insats at one unit."""

    __table_args__ = (UniqueConstraint("unit_id", "dnr"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    dnr: str
    insats: str
    status: str
    target_groups: list[str] = _json()
    decided_on: date
    position: int = 0


class SupplierCheck(SQLModel, table=True):
    """One check of a supplier (kontroll). Checks accumulate; the latest of a kind is current."""

    __tablename__ = "supplier_check"
    id: Optional[int] = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    kind: str
    result: str
    value: Optional[float] = None
    performed_on: date
    source: Optional[str] = None
    position: int = 0


class Complaint(SQLModel, table=True):
    """A complaint (synpunkt) on a unit, handled as a case (casework/complaints.py).

    Complaints about framework suppliers are handled by INK, the rest by Spink (`handler`);
    `received_by` is the organisation that received it (INK keeps one queue per receiving
    organisation). Columns after `recorded_at` came with migration 0007.
    """

    id: Optional[int] = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    received_on: date
    category: str
    outcome: str = "pending"
    note: Optional[str] = None
    recorded_by: str
    recorded_at: datetime = Field(default_factory=utcnow)
    org_nr: Optional[str] = Field(default=None, index=True)  # the supplier when it was received
    received_by: Optional[str] = None
    handler: Optional[str] = Field(default=None, index=True)  # ink | spink
    status: str = Field(default="received", index=True)  # received | investigating | closed
    closed_on: Optional[date] = None
    # Migration 0012 (issue 20 item 8): every category the complaint names ('En synpunkt kan
    # ingå i flera kategorier', sources/000 l. 10706-10708; `category` is the first), the
    # complainant's own reference to follow the handling (l. 10570-10572; never a name), and a
    # matter about one person, handed to the responsible social worker (l. 10176-10180).
    categories: Optional[list[str]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    complainant_ref: Optional[str] = Field(default=None, index=True)
    individual_level: Optional[bool] = None


class History(SQLModel, table=True):
    """Append-only log of every change to the register and of every decision taken on it.

    Database triggers refuse UPDATE and DELETE on this table (migration 0001): history is
    never rewritten. `effective_on` is the date the change takes effect in the domain (a
    permit revoked on 2024-03-01 and recorded a week later), `at` when it was recorded.
    """

    __table_args__ = (
        Index("ix_history_entity", "entity_kind", "entity_id"),
        Index("ix_history_unit", "unit_id"),
        Index("ix_history_org", "org_nr"),
        Index("ix_history_effective", "effective_on"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    effective_on: date
    actor: str = Field(index=True)
    entity_kind: str  # supplier, unit, agreement, permit, check, complaint, proposal, request, ...
    entity_id: str
    action: str  # created, updated, status, agreement_status, permit, check, complaint, ...
    org_nr: Optional[str] = None
    unit_id: Optional[str] = None
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: Optional[str] = None  # a removal reason or other code
    note: Optional[str] = None
    rule_id: Optional[str] = None  # set when a rule, not a person, caused the change
    rules_version: Optional[str] = None


class Proposal(SQLModel, table=True):
    """A maintainer's worklist item raised by a register-status rule (e.g. deepened control)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(index=True)  # deepened_control, republish, ...
    org_nr: str = Field(index=True)
    unit_id: Optional[str] = Field(default=None, index=True)
    rule_id: str
    rules_version: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", index=True)  # open, accepted, dismissed
    created_at: datetime = Field(default_factory=utcnow)
    created_on: date
    decided_by: Optional[str] = None
    decided_at: Optional[datetime] = None
    decision_note: Optional[str] = None


class PlacementRequest(SQLModel, table=True):
    """Placeringsförfrågan, as validated (no identity numbers or names: the model forbids them)."""

    __tablename__ = "placement_request"
    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, unique=True)
    submitted_on: date = Field(index=True)
    municipality: str
    requester: str
    insats: str = Field(index=True)
    subcategory: Optional[str] = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    # The whole life of the decision (migration 0012, issue 20 item 5): the recorded decision
    # day (beslutsdag; submitted_on until one is recorded), ended without execution (with its
    # reason), execution interrupted and resumed (casework/decision_life.py).
    decided_on: Optional[date] = None
    decision_ended_on: Optional[date] = None
    decision_end_reason: Optional[str] = None
    interrupted_on: Optional[date] = None
    resumed_on: Optional[date] = None


class Decision(SQLModel, table=True):
    """One stored match decision; a re-match adds a new one, earlier ones are never changed."""

    __table_args__ = (UniqueConstraint("request_id", "seq"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="placement_request.id", index=True)
    seq: int
    rules_version: str
    evaluated_on: date
    review_required: bool
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    # The excluded units' ids by reason code at decision time (matching/compact.py
    # encode_grouped; None for a decision stored before issue 22 item 1): `request show` lists
    # them without deciding again.
    excluded_units: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # Set instead of request_id when the request is stored in the same flush (a batch writes a
    # chunk's requests, decisions and history in a few statements, not three per request).
    request: Optional[PlacementRequest] = Relationship(sa_relationship=relationship("PlacementRequest"))


class Decline(SQLModel, table=True):
    """A unit said no to a request; a re-match leaves it out."""

    __table_args__ = (UniqueConstraint("request_id", "unit_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="placement_request.id", index=True)
    unit_id: str
    reason: str
    by: str
    at: datetime = Field(default_factory=utcnow)


class Placement(SQLModel, table=True):
    """The handler's choice: the person is placed at a unit through a route at a price."""

    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="placement_request.id", index=True, unique=True)
    unit_id: str = Field(index=True)
    org_nr: str = Field(index=True)
    insats: str
    route: str
    agreement_id: Optional[str] = None
    daily_price: Optional[float] = None
    start_on: date
    end_on: Optional[date] = None
    person_age: int
    municipality: str
    recommended: bool
    reason: Optional[str] = None
    by: str
    at: datetime = Field(default_factory=utcnow)
    # active, or pending_review until a direct-procurement review approves it (migration 0004)
    status: str = Field(default="active", index=True)
    places: int = 1  # the places it takes at the unit (freed when it ends or is rejected)
    special_reason: Optional[str] = None  # särskilda skäl (stödboende for 16–17-year-olds)
    # The decision (biståndsbeslut) period and the agreed daily price (migration 0007); for
    # direct procurement the negotiated price, which may differ from the listed one.
    decision_from: Optional[date] = None
    decision_to: Optional[date] = None
    agreed_price: Optional[float] = None
    agreed_by: Optional[str] = None
    chosen_on: Optional[date] = None  # the day of choosing (the unit was checked again that day)


class Review(SQLModel, table=True):
    """A direct-procurement case waiting for, or given, review."""

    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="placement_request.id", index=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    status: str = Field(default="pending", index=True)  # pending, approved, rejected
    # the unit chosen outside the decision's recommendations (held back as direct procurement)
    unit_id: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow)
    reviewer: Optional[str] = None
    note: Optional[str] = None
    decided_at: Optional[datetime] = None


class Visit(SQLModel, table=True):
    """A site visit (verksamhetsbesök) at a unit; the visit priority order reads when each unit
    was last visited."""

    id: Optional[int] = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    visited_on: date = Field(index=True)
    note: Optional[str] = None
    recorded_by: str
    recorded_at: datetime = Field(default_factory=utcnow)


class UserAccount(SQLModel, table=True):
    """A person who signs in to the application server, added by `placering admin user add`
    (access/users.py): their roles (access/policy.py) and, for a social worker, the municipality
    whose cases they see. `password_hash` (argon2) is set for a local account; a person who signs
    in through the identity provider or the proxy has none (their roles may come from there)."""

    __tablename__ = "user_account"
    id: Optional[int] = Field(default=None, primary_key=True)
    login: str = Field(unique=True, index=True)
    municipality: Optional[str] = None
    added_by: str
    added_at: datetime = Field(default_factory=utcnow)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=True))
    password_hash: Optional[str] = None
    password_changed_at: Optional[datetime] = None


class ApiToken(SQLModel, table=True):
    """A bearer token for a machine client (a case-management system, an audit run) or for a
    person's CLI (`placering login`). Only the sha256 of its secret is stored; the secret is shown
    once. A person's token acts with that person's current roles (never more than it was given);
    a machine client's token with the roles it was given. Revoked or expired tokens are refused."""

    __tablename__ = "api_token"
    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True)  # sha256 hex of the secret
    name: str  # the machine client's name, or the person's login
    account: Optional[str] = Field(default=None, index=True)  # the person's login, None for a machine
    roles: list[str] = _json()
    municipality: Optional[str] = None
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: Optional[datetime] = None
    revoked_by: Optional[str] = None


class SigninFailure(SQLModel, table=True):
    """One failed sign-in, per account and per address (the server's throttle reads these, so it
    holds across every instance behind the proxy). Old rows are deleted as new ones are written."""

    __tablename__ = "signin_failure"
    __table_args__ = (Index("ix_signin_failure_key", "scope", "key", "at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    scope: str  # account | address
    key: str  # the folded login, or the client address
    at: datetime = Field(default_factory=utcnow)


class DeviceAuthorization(SQLModel, table=True):
    """One `placering login` by the device flow (RFC 8628): the CLI holds the device code and
    polls, the person enters the user code on the server's page /enhet, signed in, and approves
    or denies. Both codes are stored as their sha256 only; a code lives a few minutes, is
    approved or denied once and gives its token once (status pending → approved|denied → used)."""

    __tablename__ = "device_authorization"
    id: Optional[int] = Field(default=None, primary_key=True)
    device_hash: str = Field(unique=True, index=True)  # sha256 hex of the device code (the CLI's)
    user_hash: str = Field(index=True)  # sha256 hex of the user code as typed (normalized)
    client_name: str  # what is asking: "placering CLI på HOST"
    status: str = "pending"  # pending | approved | denied | used
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    interval: int = 5  # seconds between polls (slow_down adds 5)
    last_polled_at: Optional[datetime] = None
    days: int = 30  # how long the token it gives lives
    decided_by: Optional[str] = None  # the person who approved or denied
    decided_at: Optional[datetime] = None
    # the approving person as signed in (login, roles, municipality, how): the token's
    login: Optional[str] = None
    roles: list[str] = _json()
    municipality: Optional[str] = None
    via: Optional[str] = None
    token_id: Optional[int] = None  # the API token it gave


class RegisterSnapshot(SQLModel, table=True):
    """The register's candidate facts of one insats at one register revision (newest register
    history id), as of one date (complaints in the last 12 months and credit ratings depend on
    it). Written once, never changed: matching reads it instead of rebuilding the facts in
    every process, and a stored decision's excluded units are explained from it exactly as they
    were decided (matching/snapshots.py). `data` is zlib-compressed JSON."""

    __tablename__ = "register_snapshot"
    __table_args__ = (UniqueConstraint("revision", "as_of", "insats"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    revision: int = Field(index=True)
    as_of: date
    insats: str
    # The candidate list is the snapshot_blob with this sha256; `data` only in rows stored
    # before 0009, which moved it there.
    digest: Optional[str] = None
    data: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class SnapshotBlob(SQLModel, table=True):
    """One distinct stored candidate list (compressed), by its sha256: snapshots of different
    days and revisions that hold the same candidates share it."""

    __tablename__ = "snapshot_blob"
    digest: str = Field(primary_key=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class StoredRuleSet(SQLModel, table=True):
    """The rule and parameter files of one rules version, as decided with (keyed by
    `RuleSet.version`): a stored decision is explained with the rules it was decided by."""

    __tablename__ = "rule_set"
    version: str = Field(primary_key=True)
    files: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class PlacementAgreement(SQLModel, table=True):
    """Placeringsavtal: the agreement with the supplier for one placement. It should match the
    executed decision: the same period and the agreed price (audit placement-agreements)."""

    __tablename__ = "placement_agreement"
    id: Optional[int] = Field(default=None, primary_key=True)
    placement_id: int = Field(foreign_key="placement.id", index=True, unique=True)
    period_from: date
    period_to: Optional[date] = None
    daily_price: float
    signed_on: date
    recorded_by: str
    recorded_at: datetime = Field(default_factory=utcnow)


class DeepenedControl(SQLModel, table=True):
    """Fördjupad kontroll of a supplier (or one of its units), opened from a proposal or by hand."""

    __tablename__ = "deepened_control"
    id: Optional[int] = Field(default=None, primary_key=True)
    org_nr: str = Field(index=True)
    unit_id: Optional[str] = Field(default=None, index=True)
    proposal_id: Optional[int] = Field(default=None, index=True)
    reason: str
    opened_on: date = Field(index=True)
    opened_by: str
    checked: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # what → finding
    status: str = Field(default="open", index=True)  # open | decided
    outcome: Optional[str] = None
    decided_on: Optional[date] = Field(default=None, index=True)
    decided_by: Optional[str] = None
    decision_note: Optional[str] = None


class AgreementFollowup(SQLModel, table=True):
    """A systematic framework follow-up (after 12 or 30 months) recorded as done, with findings."""

    __tablename__ = "agreement_followup"
    __table_args__ = (UniqueConstraint("agreement_id", "months"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    agreement_id: str = Field(index=True)
    months: int
    done_on: date
    findings: str
    recorded_by: str
    recorded_at: datetime = Field(default_factory=utcnow)


class PlacementSurvey(SQLModel, table=True):
    """The survey three months into an HVB placement of a child (enkät efter tre månader)."""

    __tablename__ = "placement_survey"
    id: Optional[int] = Field(default=None, primary_key=True)
    placement_id: int = Field(foreign_key="placement.id", index=True, unique=True)
    answered_on: date
    positive_change: bool
    care_quality: str
    child_answered: bool
    recorded_by: str
    recorded_at: datetime = Field(default_factory=utcnow)


class CaseAccessLog(SQLModel, table=True):
    """One reading of a protected person's request (issue 20 item 11, migration 0012): who and
    when; `audit protected-reads` lists them. Not history: reading changes nothing."""

    __tablename__ = "case_access_log"
    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: str = Field(index=True)
    reader: str = Field(index=True)
    read_at: datetime = Field(default_factory=utcnow)
    what: str  # show | explain


class CaseAccessGrant(SQLModel, table=True):
    """Time-limited access to a protected case: once a request has a grant, only readers with a
    grant valid on the day may read it ('behörighet under en begränsad tid', sources/003 l. 349-351)."""

    __tablename__ = "case_access_grant"
    id: Optional[int] = Field(default=None, primary_key=True)
    request_id: str = Field(index=True)
    reader: str
    valid_from: date
    valid_to: date
    granted_by: str
    granted_at: datetime = Field(default_factory=utcnow)
