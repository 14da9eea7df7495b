"""Who may do what: THE one table of roles → actions, used by the API, the web pages and the CLI.

A person (or a machine client) is a `Principal`: a login, the roles it holds, a municipality
(for a social worker) and how it signed in. Every change and every read of cases goes through
`authorize(principal, action, municipality=…)` before the library function that does the work.

The seven roles keep the meaning they had when PostgreSQL enforced them by GRANTs
(access/roles.py, README "Roles"):
- handler: match, decline, choose and end placements for every municipality;
- social_worker: the same for the requests of one municipality (its own cases only);
- maintainer: unit status, recommendation stop, checks, permits, complaints, visits, proposals, import;
- procurement: framework agreements (order stop, termination), framework entry checks, complaints
  about framework suppliers, framework follow-ups;
- reviewer: approve or reject direct-procurement reviews (never of a case they decided or chose:
  that four-eyes check stays in matching/review.py, where the case's people are known);
- auditor: reads everything, history included; writes nothing;
- admin: users, tokens, roles, init, rules deployment; everything.

Reading the register and the rules is open to every role. Every role but the social worker
reads every municipality's cases ("staff"); a social worker reads and writes the cases of its
own municipality only (`municipality_scope`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import NotPermitted
from ..i18n import Label, label_list as labels, msg
from .roles import Role


class Action(StrEnum):
    # the register (utförarregister)
    REGISTER_READ = "register.read"
    REGISTER_IMPORT = "register.import"
    REGISTER_STATUS = "register.status"  # unit status, recommendation stop
    REGISTER_CHECK = "register.check"  # supplier checks (credit rating, tax, …)
    REGISTER_PERMIT = "register.permit"  # IVO permits
    REGISTER_AGREEMENT = "register.agreement"  # framework agreement status: order stop, termination
    REGISTER_ENTRY = "register.entry"  # framework entry checks
    REGISTER_VISIT = "register.visit"
    REGISTER_PROPOSAL = "register.proposal"  # accept or reject the register rules' proposals
    # cases: requests, decisions, placements (a social worker: its own municipality's)
    REQUEST_READ = "request.read"
    REQUEST_MATCH = "request.match"
    REQUEST_CHOOSE = "request.choose"
    REQUEST_DECLINE = "request.decline"
    REQUEST_END = "request.end"
    PLACEMENT_WRITE = "placement.write"  # decision period, agreed price, placement agreement
    SURVEY_WRITE = "survey.write"  # the three-month HVB survey
    REVIEW_READ = "review.read"
    REVIEW_DECIDE = "review.decide"
    # casework about suppliers
    COMPLAINT_WRITE = "complaint.write"
    CONTROL_WRITE = "control.write"  # deepened controls (fördjupade kontroller)
    FOLLOWUP_WRITE = "followup.write"  # framework follow-ups after 12 and 30 months
    CASEWORK_READ = "casework.read"
    # audits and history
    AUDIT_READ = "audit.read"
    HISTORY_READ = "history.read"
    # rules
    RULES_READ = "rules.read"
    RULES_DEPLOY = "rules.deploy"
    # administration
    ADMIN_USERS = "admin.users"
    ADMIN_TOKENS = "admin.tokens"
    ADMIN_INIT = "admin.init"
    # a person's own sign-in: approve a `placering login` device code (a token with one's own roles)
    AUTH_DEVICE = "auth.device"
    # time-limited access to a protected case (`request grant`): the handlers of the case
    REQUEST_GRANT = "request.grant"


A = Action
_READ_ALL = frozenset({A.REGISTER_READ, A.REQUEST_READ, A.REVIEW_READ, A.CASEWORK_READ, A.AUDIT_READ,
                       A.HISTORY_READ, A.RULES_READ})
_CASES = frozenset({A.REQUEST_READ, A.REQUEST_MATCH, A.REQUEST_CHOOSE, A.REQUEST_DECLINE, A.REQUEST_END,
                    A.PLACEMENT_WRITE, A.SURVEY_WRITE, A.REVIEW_READ})

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.HANDLER: _READ_ALL | _CASES,
    # the register (to match) and its own municipality's cases and their history; no audits of
    # every municipality, no casework about suppliers
    Role.SOCIAL_WORKER: _CASES | {A.REGISTER_READ, A.RULES_READ, A.HISTORY_READ},
    Role.MAINTAINER: _READ_ALL | {A.REGISTER_IMPORT, A.REGISTER_STATUS, A.REGISTER_CHECK, A.REGISTER_PERMIT,
                                  A.REGISTER_VISIT, A.REGISTER_PROPOSAL, A.COMPLAINT_WRITE, A.CONTROL_WRITE},
    Role.PROCUREMENT: _READ_ALL | {A.REGISTER_AGREEMENT, A.REGISTER_ENTRY, A.REGISTER_CHECK, A.COMPLAINT_WRITE,
                                   A.FOLLOWUP_WRITE, A.REGISTER_PROPOSAL},
    # a rejected review frees its placement's places: part of review.decide, not a write of its own
    Role.REVIEWER: _READ_ALL | {A.REVIEW_DECIDE},
    Role.AUDITOR: _READ_ALL,
    Role.ADMIN: frozenset(Action),
}

# Every role may approve its own CLI's sign-in (the token gets that person's roles, no more).
ROLE_ACTIONS = {role: actions | {A.AUTH_DEVICE} for role, actions in ROLE_ACTIONS.items()}
# Who gives a handler time-limited access to a protected case: the handlers (a social worker for
# its own municipality's cases) and admins.
ROLE_ACTIONS[Role.HANDLER] |= {A.REQUEST_GRANT}
ROLE_ACTIONS[Role.SOCIAL_WORKER] |= {A.REQUEST_GRANT}

# The actions a social worker holds only for its own municipality's cases.
MUNICIPALITY_SCOPED = frozenset(_CASES | {A.HISTORY_READ, A.REQUEST_GRANT})

VIA = ("local", "oidc", "proxy", "token", "cli-local")


@dataclass(frozen=True)
class Principal:
    """The signed-in person (or machine client) a request or command acts for."""

    login: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    municipality: str | None = None
    via: str = "local"

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(Role(r) for r in self.roles))

    @property
    def actions(self) -> frozenset[Action]:
        out: set[Action] = set()
        for role in self.roles:
            out |= ROLE_ACTIONS[role]
        return frozenset(out)

    def as_dict(self) -> dict:
        return {"login": self.login, "roles": sorted(r.value for r in self.roles), "municipality": self.municipality,
                "via": self.via}


def _same_municipality(a: str, b: str) -> bool:
    from ..text import fold

    return fold(a.strip()) == fold(b.strip())


def municipality_scope(principal: Principal, action: Action | str) -> str | None:
    """The one municipality whose cases `principal` may touch with `action`, or None for every
    municipality (a role other than social worker grants it). Listings filter by this."""
    action = Action(action)
    if action not in MUNICIPALITY_SCOPED:
        return None
    for role in principal.roles:
        if role is not Role.SOCIAL_WORKER and action in ROLE_ACTIONS[role]:
            return None
    if Role.SOCIAL_WORKER in principal.roles:
        return principal.municipality or ""
    return None


def allowed(principal: Principal | None, action: Action | str, *, municipality: str | None = None) -> bool:
    try:
        authorize(principal, action, municipality=municipality)
    except NotPermitted:
        return False
    return True


def authorize(principal: Principal | None, action: Action | str, *, municipality: str | None = None) -> None:
    """Refuse (NotPermitted) unless `principal` may do `action`; for a case, `municipality` is the
    case's municipality (a social worker may touch its own municipality's cases only)."""
    action = Action(action)
    if principal is None:
        raise NotPermitted(msg("access.not_signed_in", action=Label(action.value, "action")))
    if action not in principal.actions:
        held = sorted(r.value for r in principal.roles)
        raise NotPermitted(msg("access.may_not", login=principal.login, roles=labels(held, "role"),
                               action=Label(action.value, "action")) if held else
                           msg("access.may_not_no_role", login=principal.login, action=Label(action.value, "action")))
    scope = municipality_scope(principal, action)
    if scope is not None and municipality is not None and not (scope and _same_municipality(scope, municipality)):
        raise NotPermitted(msg("access.other_municipality", login=principal.login, scope=scope, municipality=municipality)
                           if scope else msg("access.no_municipality", login=principal.login, municipality=municipality))


def local_principal(actor: str | None = None) -> Principal:
    """The embedded SQLite register's single user (and an operator's command on the server's own
    database): every role. The actor recorded in history is still the one the command names."""
    return Principal(login=actor or "lokal", roles=frozenset(Role), municipality=None, via="cli-local")


def parse_roles(values, *, what: str = "--role") -> frozenset[Role]:
    """Role codes typed by a person or sent by a client; an unknown one is refused by name."""
    from ..errors import ValidationError

    out = set()
    for value in values:
        try:
            out.add(Role(str(value).strip()))
        except ValueError:
            raise ValidationError(msg("role.unknown", option=what, role=value,
                                      known=labels([r.value for r in Role], "role"))) from None
    return frozenset(out)
