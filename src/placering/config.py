"""The user's config file: database, actor and rules directory, so they need not be typed.

`placering.toml` in the user's config directory (platformdirs: ~/.config/placering on Linux,
%APPDATA%\\placering on Windows), or the file named by PLACERING_CONFIG:

    database = "postgresql://placering@dbhost/placering"
    actor = "anna.handlaggare"
    rules = "/srv/placering/rules"

An option on the command line wins over the environment variable, which wins over the file.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from .errors import Problem, ValidationError, os_reason
from .i18n import msg

KEYS = ("database", "actor", "rules")
ENV = "PLACERING_CONFIG"


def config_path() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    from platformdirs import user_config_dir

    return Path(user_config_dir("placering")) / "placering.toml"


@lru_cache(maxsize=8)
def _load(path: Path, mtime: float) -> dict[str, str]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(Problem(msg("config.not_toml", detail=str(exc)), file=str(path))) from None
    except UnicodeDecodeError as exc:  # a binary file: TOML is UTF-8 text
        raise ValidationError(Problem(msg("config.not_utf8", byte=f"0x{exc.object[exc.start]:02X}", offset=exc.start),
                                      file=str(path))) from None
    except OSError as exc:
        raise ValidationError(Problem(msg("file.cannot_read", reason=os_reason(exc)), file=str(path))) from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ValidationError(Problem(msg("config.unknown_settings", n=len(unknown), settings=", ".join(unknown), known=", ".join(KEYS)),
                                      file=str(path)))
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(Problem(msg("config.not_text"), file=str(path), field=key))
    return {k: v.strip() for k, v in data.items()}


def config() -> dict[str, str]:
    """The settings in the config file (none when there is no file)."""
    path = config_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        if os.environ.get(ENV):
            raise ValidationError(Problem(msg("config.no_file"), file=str(path))) from None
        return {}
    return _load(path, mtime)


def setting(key: str) -> str | None:
    return config().get(key)
