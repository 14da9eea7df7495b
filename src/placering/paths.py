"""Where the data directories are: `rules/` and `registry/` in a source checkout, or their
copies inside the installed wheel. PLACERING_RULES_DIR / PLACERING_REGISTRY_DIR override."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str, env: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env])
    checkout = _PACKAGE.parent.parent / name  # src/placering -> repository root
    if checkout.is_dir():
        return checkout
    return _PACKAGE / "_data" / name


def rules_dir() -> Path:
    return _data_dir("rules", "PLACERING_RULES_DIR")


def registry_dir() -> Path:
    return _data_dir("registry", "PLACERING_REGISTRY_DIR")
