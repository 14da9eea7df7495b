"""Read-only answers for auditors from the register's history: paused as of a date, affected
placements, yearly figures, checks and follow-ups due, visit priorities, and the change log.

Nothing here writes. Statuses on a date come from history alone (timeline.py); thresholds come
from dated parameters in rules/parameters/ (params.py).
"""

from .checks import checks_due  # noqa: F401
from .log import audit_log  # noqa: F401
from .paused import paused  # noqa: F401
from .placements import affected_placements  # noqa: F401
from .timeline import permit_states, register_states  # noqa: F401
from .visits import visits  # noqa: F401
from .yearly import adherence, direct_procurement, removals, requests  # noqa: F401
