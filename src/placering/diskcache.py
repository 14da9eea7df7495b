"""A per-user cache of what is built from the project's YAML files (rule set, taxonomy, labels).

Parsing and validating the YAML costs a short-lived `placering` process about 0.3 s of CPU
(ruamel's round-trip parser keeps line numbers for error messages), more than deciding a
request. What is built from the files is a pure function of their bytes and of this package's
code, so it is kept under a key that hashes both: the file's name and content and the stat of
every module of the package. A changed rule file, or a changed placering, is a new key.

It is kept as JSON in a tagged form (`encode`/`decode`, issue 21), never as a pickle: reading an
entry can only build placering's own data classes (by setting their fields, calling no method of
theirs), numbers, text, dates, containers and numpy arrays, so a planted file cannot run code.

Only a successful build is stored: a file with problems is parsed again every time and reports
them with file and line. The cache is an optimisation and never a source of truth: a missing,
unreadable or foreign cache directory means building as if there were none.

The directory is `PLACERING_CACHE_DIR` or the user's cache directory (platformdirs). Entries are
only read from a directory owned by the user and writable by no one else, and only from regular
files owned by the user (no symbolic link to a file elsewhere): what another user planted is not
read, even though it could not run code.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import importlib
import json
import os
import stat
import tempfile
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

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
    for path in directory.glob(f"{kind}-*{SUFFIX}"):
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


def peek_by_content(kind: str, content_digest: str) -> Any:
    """What `cached_by_content` keeps for this input, when an earlier process built it; None
    when there is none (or none this user may trust). Builds nothing."""
    directory = cache_dir()
    if directory is None:
        return None
    key = hashlib.sha256(kind.encode() + b"\0" + content_digest.encode() + b"\0" + code_fingerprint()).hexdigest()[:32]
    try:
        return _read_entry(directory / f"{kind}-{key}{SUFFIX}")
    except Exception:  # noqa: BLE001 - missing, damaged or foreign: as if there were none
        return None


SUFFIX = ".json"


# --- the safe encoding: tagged JSON ---------------------------------------------------------------
# Every container is a list whose first element says what it is; scalars are themselves.


class NotEncodable(TypeError):
    """A value the cache cannot keep (it is then built every time, as without a cache)."""


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


@lru_cache(maxsize=None)
def _placering_class(name: str) -> type:
    """A class of placering itself, by name: nothing else is ever built from an entry."""
    module, _, qualname = name.partition(":")
    if not (module == "placering" or module.startswith("placering.")):
        raise ValueError(f"not a placering class: {name}")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type) or not obj.__module__.startswith("placering"):
        raise ValueError(f"not a placering class: {name}")
    return obj


def encode(value: Any, _depth: int = 0) -> Any:
    """`value` as JSON-able data that `decode` turns back into an equal value."""
    if _depth > 200:
        raise NotEncodable("nested too deeply (a cycle?)")
    d = _depth + 1
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, float):
        return value if type(value) is float else float(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, Enum):
        return ["e", _class_name(type(value)), encode(value.value, d)]
    if isinstance(value, str):
        return str(value)  # ruamel's scalar strings
    if isinstance(value, int):
        if "numpy" in type(value).__module__:
            return ["ns", value.dtype.str, value.item()]
        return int(value)
    if isinstance(value, list):
        return ["l", *(encode(v, d) for v in value)]
    if isinstance(value, tuple):
        return ["t", *(encode(v, d) for v in value)]
    if isinstance(value, dict):
        out: list = ["d"]
        for k, v in value.items():
            out.append(encode(k, d))
            out.append(encode(v, d))
        return out
    if isinstance(value, frozenset):
        return ["f", *(encode(v, d) for v in value)]
    if isinstance(value, set):
        return ["s", *(encode(v, d) for v in value)]
    if isinstance(value, datetime):
        return ["T", value.isoformat()]
    if isinstance(value, date):
        return ["D", value.isoformat()]
    if isinstance(value, Path):
        return ["P", str(value)]
    module = type(value).__module__
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return ["no", list(value.shape), encode(value.ravel().tolist(), d)]
            data = np.ascontiguousarray(value)
            return ["n", data.dtype.str, list(data.shape), base64.b64encode(data.tobytes()).decode("ascii")]
        if isinstance(value, np.generic):
            return ["ns", value.dtype.str, value.item()]
    cls = type(value)
    if module.startswith("placering"):
        getstate = getattr(cls, "__getstate__", None)
        if getstate is not None and getstate is not object.__getstate__:
            state = value.__getstate__()
        elif hasattr(value, "__dict__"):
            state = vars(value)
        else:
            state = {k: getattr(value, k) for c in cls.__mro__ for k in getattr(c, "__slots__", ())
                     if hasattr(value, k)}
        # the state as a JSON object: its keys are field names (text), its values encoded
        return ["o", _class_name(cls), {str(k): encode(v, d) for k, v in state.items()}]
    if isinstance(value, float):
        return float(value)
    raise NotEncodable(f"cannot keep a {module}.{cls.__qualname__}")


def decode(data: Any) -> Any:
    """The value `encode` wrote. Builds only containers, dates, numpy arrays and placering's
    own classes (their fields set directly: no __init__, __setstate__ or other method runs)."""
    if type(data) is not list:
        return data
    tag = data[0]
    if tag == "l":
        return [v if type(v) is not list else decode(v) for v in data[1:]]
    if tag == "t":
        return tuple([v if type(v) is not list else decode(v) for v in data[1:]])
    if tag == "d":
        it = iter(data)
        next(it)
        return {(k if type(k) is not list else decode(k)): (v if type(v) is not list else decode(v)) for k, v in zip(it, it)}
    if tag == "o":
        cls = _placering_class(data[1])
        obj = object.__new__(cls)
        state = {k: (v if type(v) is not list else decode(v)) for k, v in data[2].items()}
        if hasattr(obj, "__dict__"):
            obj.__dict__.update(state)  # frozen dataclasses too; no method of the class runs
        else:
            for k, v in state.items():
                object.__setattr__(obj, k, v)
        return obj
    rest = data[1:]
    if tag == "f":
        return frozenset(decode(v) for v in rest)
    if tag == "s":
        return {decode(v) for v in rest}
    if tag == "D":
        return date.fromisoformat(rest[0])
    if tag == "T":
        return datetime.fromisoformat(rest[0])
    if tag == "P":
        return Path(rest[0])
    if tag == "e":
        cls = _placering_class(rest[0])
        if not issubclass(cls, Enum):
            raise ValueError(f"not an enumeration: {rest[0]}")
        return cls(decode(rest[1]))
    if tag in ("n", "no", "ns"):
        import numpy as np

        if tag == "n":
            dtype = np.dtype(rest[0])
            if dtype.hasobject:
                raise ValueError("object arrays are stored item by item")
            return np.frombuffer(base64.b64decode(rest[2]), dtype=dtype).reshape(rest[1]).copy()
        if tag == "no":
            arr = np.empty(int(np.prod(rest[1])), dtype=object)
            arr[:] = decode(rest[2])
            return arr.reshape(rest[1])
        dtype = np.dtype(rest[0])
        if dtype.hasobject:
            raise ValueError("no object scalars")
        return dtype.type(rest[1])
    raise ValueError(f"unknown tag {tag!r}")


def _read_entry(target: Path) -> Any:
    """An entry's value; FileNotFoundError when there is none (or none this user may trust)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)  # a symbolic link is not followed
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # a link: someone else's file, not read
            target.unlink(missing_ok=True)
        raise FileNotFoundError(target) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or (hasattr(os, "geteuid") and st.st_uid != os.geteuid()) or \
                st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ValueError("not a private regular file of this user")
        return decode(json.loads(f.read()))


def _cached(directory: Path | None, kind: str, key: str | None, build: Callable[[], T]) -> T:
    if directory is None or key is None:
        return build()
    target = directory / f"{kind}-{key}{SUFFIX}"
    try:
        return _read_entry(target)
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a damaged, stale or foreign entry is rebuilt, never trusted
        target.unlink(missing_ok=True)
    value = build()
    tmp = None
    try:
        text = json.dumps(encode(value), ensure_ascii=False, separators=(",", ":"))
        fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", dir=directory)  # 0600
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)  # atomic: a concurrent reader sees the old or the whole new file
        tmp = None
        _prune(directory, kind)
    except (OSError, NotEncodable, ValueError):
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return value
