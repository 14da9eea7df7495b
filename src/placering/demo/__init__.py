"""The demo register: a deterministic, Göteborg-shaped register for trying placering out.

Not part of the register itself (`placering.register`): the demo builds an interchange
document (`generator.generate_register`), demo placement requests (`generate_requests`), and
writes the register with years of dated history through the register's own library functions
(`history.py`), with placements of the last two years made through the matching library
(`placements.py`); `load.load_demo` is `placering init --demo`.
Benchmarks use the same generator at any size.
"""

from .generator import (  # noqa: F401
    DEMO_AS_OF,
    DEMO_SEED,
    DEMO_UNITS,
    document_json,
    generate_register,
    generate_requests,
    month_start_after,
    request_mix,
)
from .load import load_demo  # noqa: F401
