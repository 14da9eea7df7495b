"""A per-user cache of what is built from the project's YAML files (rule set, taxonomy, labels).

Parsing and validating the YAML costs a short-lived `placering` process about 0.3 s of CPU
(ruamel's round-trip parser keeps line numbers for error messages), more than deciding a
request. What is built from the files is a pure function of their bytes and of this package's
code, so it is kept, pickled, under a key that hashes both: the file's name and content and the
stat of every module of the package. A changed rule file, or a changed placering, is a new key.

Only a successful build is stored: a file with problems is parsed again every time and reports
them with file and line. The cache is an optimisation and never a source of truth: a missing,
unreadable or foreign cache directory means building as if there were none.

The directory is `PLACERING_CACHE_DIR` or the user's cache directory (platformdirs). Pickles
are only read from a directory owned by the user and writable by no one else: a pickle from
someone else could run their code.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

_PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def code_fingerprint() -> bytes:
    """The stat (name, size, mtime) of every module of the package: any edit or upgrade changes it."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(_PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(root, name))
                h.update(f"{os.path.relpath(os.path.join(root, name), _PACKAGE)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.digest()


def cache_dir() -> Path | None:
    """The cache directory, created private; None when it cannot be used safely."""
    configured = os.environ.get("PLACERING_CACHE_DIR")
    if configured == "":
        return None  # set but empty: no cache (e.g. to measure the cold path)
    if configured:
        path = Path(configured)
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("placering"))
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError:
        return None
    if hasattr(os, "geteuid") and (st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None
    return path


def _key(kind: str, files: Iterable[Path], extra: str) -> str | None:
    h = hashlib.sha256(kind.encode() + b"\0" + extra.encode() + b"\0" + code_fingerprint())
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            return None  # let the build report the unreadable file
        h.update(path.name.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:32]


KEEP = 16  # entries per kind: each edit of a rule file makes a new one
KEEP_KIND = {"table": 64}  # columnar tables: one per insats and register revision


def _prune(directory: Path, kind: str) -> None:
    """Keep the KEEP newest entries of a kind (another process may prune at the same time)."""
    entries = []
    for path in directory.glob(f"{kind}-*.pickle"):
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    for _mtime, old in sorted(entries, reverse=True)[KEEP_KIND.get(kind, KEEP):]:
        old.unlink(missing_ok=True)


def cached(kind: str, files: Iterable[Path], build: Callable[[], T], *, extra: str = "") -> T:
    """`build()`, or its result from an earlier process when `files` (and the code) are unchanged."""
    directory = cache_dir()
    key = _key(kind, list(files), extra) if directory is not None else None
    return _cached(directory, kind, key, build)


def cached_by_content(kind: str, content_digest: str, build: Callable[[], T]) -> T:
    """`build()`, or its result from an earlier process for the same input: `content_digest`
    is a hash of everything the result is built from (and the code is the same)."""
    directory = cache_dir()
    key = None
    if directory is not None:
        key = hashlib.sha256(kind.encode() + b"\0" + content_digest.encode() + b"\0" + code_fingerprint()).hexdigest()[:32]
    return _cached(directory, kind, key, build)


def _cached(directory: Path | None, kind: str, key: str | None, build: Callable[[], T]) -> T:
    if directory is None or key is None:
        return build()
    target = directory / f"{kind}-{key}.pickle"
    try:
        with open(target, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a damaged or stale entry is rebuilt, never trusted
        target.unlink(missing_ok=True)
    value = build()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", dir=directory)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)  # atomic: a concurrent reader sees the old or the whole new file
        _prune(directory, kind)
    except (OSError, pickle.PicklingError):
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
    return value
