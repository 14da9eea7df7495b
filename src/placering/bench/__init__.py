"""`placering bench …`: benchmarks that print measured figures (speed, memory), never asserted
in tests. This package is imported only by `placering bench` (the CLI loads commands lazily),
so no other command pays for it at start-up. Each module adds its commands to `group.bench`."""

from __future__ import annotations

from .group import bench  # noqa: F401

from . import register as _register  # noqa: E402,F401
from . import audit as _audit  # noqa: E402,F401
from . import engine as _engine  # noqa: E402,F401
from . import matching as _matching  # noqa: E402,F401
from . import rules as _rules  # noqa: E402,F401
from . import scale as _scale  # noqa: E402,F401
from . import load as _load  # noqa: E402,F401
from . import web as _web  # noqa: E402,F401
