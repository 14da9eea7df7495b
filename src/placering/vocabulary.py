"""The codes of CONTRACT.md. Codes are data values; people see the Swedish labels."""

from __future__ import annotations

from enum import StrEnum


class Route(StrEnum):
    """Regiform: how the municipality reaches a unit."""

    EGEN_REGI = "egen_regi"
    RAMAVTAL = "ramavtal"
    IOP = "iop"
    DIREKTUPPHANDLING = "direktupphandling"


class UnitStatus(StrEnum):
    PENDING_ENTRY = "pending_entry"  # new or re-admitted, entry checks not yet approved
    PUBLISHED = "published"
    WATCH = "watch"
    UNPUBLISHED = "unpublished"
    RECOMMENDATION_STOP = "recommendation_stop"
    REMOVED = "removed"


class AgreementStatus(StrEnum):
    ACTIVE = "active"
    ORDER_STOP = "order_stop"
    TERMINATED = "terminated"


class RemovalReason(StrEnum):
    OSANNOLIK_ANVANDNING = "osannolik_anvandning"
    AVVECKLAD = "avvecklad"
    EKONOMISKA_BRISTER = "ekonomiska_brister"
    IVO = "ivo"
    REKOMMENDATIONSSTOPP = "rekommendationsstopp"
    FORTIDA_UPPHORANDE = "fortida_upphorande"
    AVRADAN_ANNAN_MYNDIGHET = "avradan_annan_myndighet"


class PermitStatus(StrEnum):
    ACTIVE = "active"
    NOTIFIED = "notified"
    REVOKED = "revoked"
    BANNED = "banned"
    EXPIRED = "expired"


class CheckKind(StrEnum):
    CREDIT_RATING = "credit_rating"
    TAX_REGISTRATION = "tax_registration"
    EMPLOYER_REGISTRATION = "employer_registration"
    ENFORCEMENT_DEBT = "enforcement_debt"
    COURT_RECORDS = "court_records"
    ANNUAL_REPORT = "annual_report"
    WARNING_LIST = "warning_list"
    IVO_SUPERVISION = "ivo_supervision"
    MEDIA = "media"
    # Checks on people (issue 20 item 10): the manager's competence (utbildningsbevis och CV,
    # sources/000 l. 10026-10030; 'saknar godkänd föreståndare', 004 l. 1270-1271), and court
    # judgments about other people around the company after warning signals (000 l. 10006-10010).
    MANAGER_COMPETENCE = "manager_competence"
    PEOPLE_COURT_RECORDS = "people_court_records"


class CheckResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNAVAILABLE = "unavailable"  # the source could not be reached: never counts as a pass


class LegalForm(StrEnum):
    AKTIEBOLAG = "aktiebolag"
    EKONOMISK_FORENING = "ekonomisk_forening"
    IDEELL_FORENING = "ideell_forening"
    STIFTELSE = "stiftelse"
    ENSKILD_FIRMA = "enskild_firma"
    KOMMUN = "kommun"
    REGION = "region"
    STAT = "stat"


class TargetGroup(StrEnum):
    MISSBRUK = "missbruk"
    KRIMINALITET = "kriminalitet"
    PSYKISK_OHALSA = "psykisk_ohalsa"
    NPF = "npf"
    VALD = "vald"
    HEDER = "heder"
    HEMLOSHET = "hemloshet"
    FYSISK_FUNKTIONSNEDSATTNING = "fysisk_funktionsnedsattning"
    PSYKISK_FUNKTIONSNEDSATTNING = "psykisk_funktionsnedsattning"
    ENSAMKOMMANDE = "ensamkommande"
    FORALDER_MED_BARN = "foralder_med_barn"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"


class Urgency(StrEnum):
    AKUT = "akut"
    PLANERAD = "planerad"


class LegalBasis(StrEnum):
    SOL = "SoL"
    LVU = "LVU"
    LVM = "LVM"
    LSS = "LSS"


class ComplaintOutcome(StrEnum):
    """Outcomes of a complaint (synpunkt) named in the sources."""

    PENDING = "pending"
    COMMUNICATED = "communicated"  # kommunicerats och dokumenterats
    IMPROVEMENT = "improvement"  # förbättringsåtgärd
    RECOMMENDATION_STOP = "recommendation_stop"
    CONSULTATION = "consultation"  # samråd pågår
    # 'Platsbrist SiS' (sources/000 l. 10728; all four complaints on SiS placements in 2022 were
    # about SiS's place shortage, l. 10614-10616; Hisingen 2024, 001 l. 1049-1058).
    PLATSBRIST_SIS = "platsbrist_sis"


class DecisionEndReason(StrEnum):
    """Why a decision ended without execution (Hisingen 2024, sources/001 l. 753-755: 'avslutats
    utan verkställighet på begäran av den enskilde'; Nordost 2022, 000 l. 2912: 'ny utredning av
    behovet')."""

    PERSON_REQUEST = "person_request"  # på begäran av den enskilde
    NEEDS_CHANGED = "needs_changed"  # behovet har ändrats (ny utredning av behovet)


class ComplaintCategory(StrEnum):
    DOCUMENTATION = "documentation"
    DELIVERY = "delivery"
    COMMUNICATION = "communication"
    PROFESSIONALISM = "professionalism"
    AGREEMENT = "agreement"
    TREATMENT = "treatment"  # bemötande
    PRICE_INVOICING = "price_invoicing"
    UNANNOUNCED_PLACEMENT = "unannounced_placement"
    CONDITION_OF_HOME = "condition_of_home"
    PRESSURE = "pressure"  # påtryckning om plats
    RECEPTION = "reception"  # brister i mottagning utförare
    OTHER = "other"


class ExclusionCode(StrEnum):
    """Why a candidate is left out (CONTRACT.md, Match decision): an eligibility rule's `exclude`."""

    STATUS = "STATUS"
    AGREEMENT = "AGREEMENT"
    PERMIT = "PERMIT"
    AGE = "AGE"
    GENDER = "GENDER"
    TARGET_GROUP = "TARGET_GROUP"
    SUBCATEGORY = "SUBCATEGORY"
    CAPACITY = "CAPACITY"
    DISTANCE = "DISTANCE"
    MUNICIPALITY = "MUNICIPALITY"
    PRICE = "PRICE"
    PRICE_NOT_RECOMMENDED = "PRICE_NOT_RECOMMENDED"  # direct-procurement price above the second level
    DECLINED = "DECLINED"


class FlagCode(StrEnum):
    """What a handler or reviewer must look at (CONTRACT.md): a review rule's `flag`, or the matcher's."""

    DIRECT_PROCUREMENT = "DIRECT_PROCUREMENT"
    PRICE_ABOVE_REFERENCE = "PRICE_ABOVE_REFERENCE"
    PRICE_NOT_CONFIRMED = "PRICE_NOT_CONFIRMED"  # the price not confirmed as current within the period (004 l. 1203)
    NO_ELIGIBLE_UNIT = "NO_ELIGIBLE_UNIT"
    WATCH_LISTED = "WATCH_LISTED"
    LAST_RESORT = "LAST_RESORT"
    STODBOENDE_UNDER_18 = "STODBOENDE_UNDER_18"
    NETWORK_NOT_CONSIDERED = "NETWORK_NOT_CONSIDERED"  # the person's own network not recorded as considered


class EventKind(StrEnum):
    """What a register_status rule reacts to."""

    CHECK = "check"
    PERMIT = "permit"
    COMPLAINT = "complaint"


class ComplaintStatus(StrEnum):
    """Where a complaint case stands (casework/complaints.py)."""

    RECEIVED = "received"
    INVESTIGATING = "investigating"
    CLOSED = "closed"


class ComplaintHandler(StrEnum):
    """Who handles a complaint: INK for framework suppliers, Spink for the rest (Nordost 2022)."""

    INK = "ink"
    SPINK = "spink"
    # A matter about one person, not the operation or agreement: handed to the responsible
    # social worker (ansvarig handläggare), sources/000 l. 10176-10180.
    SOCIAL_WORKER = "social_worker"


class ControlCheck(StrEnum):
    """What a deepened control (fördjupad kontroll) looked at."""

    IVO_REPORTS = "ivo_reports"
    FINANCES = "finances"
    COMPLAINTS = "complaints"
    VISIT = "visit"
    COURT_RECORDS = "court_records"
    PEOPLE_COURT_RECORDS = "people_court_records"  # after warning signals (000 l. 10006-10010)


class ControlOutcome(StrEnum):
    """How a deepened control ended."""

    NO_ACTION = "no_action"
    WATCH = "watch"
    PAUSE = "pause"  # avpublicering
    REMOVAL = "removal"
    RECOMMENDATION_STOP = "recommendation_stop"
    ORDER_STOP_PROPOSAL = "order_stop_proposal"  # förslag till INK om beställningsstopp


class CareQuality(StrEnum):
    """The handler's view of the quality of care in the three-month HVB survey."""

    MYCKET_BRA = "mycket_bra"
    BRA = "bra"
    VARKEN_ELLER = "varken_eller"
    DALIG = "dalig"
    MYCKET_DALIG = "mycket_dalig"


# Statuses under which a unit may not be asked or recommended (DOMAIN.md, Statuses).
PAUSED_UNIT_STATUSES = frozenset(
    {UnitStatus.PENDING_ENTRY, UnitStatus.UNPUBLISHED, UnitStatus.RECOMMENDATION_STOP, UnitStatus.REMOVED}
)
PAUSED_AGREEMENT_STATUSES = frozenset({AgreementStatus.ORDER_STOP, AgreementStatus.TERMINATED})
