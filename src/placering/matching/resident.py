"""The register's candidate facts resident in a long-running process (the server, a long CLI
run): what `snapshots.load_snapshot` and `snapshots.stored_snapshot` read and decode from the
stored register snapshot, and the evaluator built on it, kept in memory between requests.

A stored snapshot of (register revision, day) never changes (snapshots.py: written once, every
list named by its sha256), so what was decoded from it can be used again as long as the revision
is the register's current one. Every match still reads the current revision first (one small
SELECT, `storage.history.current_revision`) and asks for that revision: a register change made
by any process, any server instance, moves the revision, and the next match decodes the new
revision's snapshot; nothing is ever answered from an older revision than the one the request
reads. What is kept:

- per (revision, day, insats): the decoded candidate list and its digest; per (revision, day)
  the final prices of direct-procurement placements (they change only with register history);
- per (revision, day, insatser, rules version, evaluator): the evaluator loaded with them
  (the columnar `vectorized` one, whose tables cost most of a cold match; the `durable`
  adapter keeps state per evaluation and is not shared between threads).

Bounded: the entries of at most two revisions per database (the current one and the one
before, which decisions made a moment ago were decided on, and whose full documents are read
back right after), the newest two by revision number; an older revision read (a stored
decision explained later) is decoded for that call and not kept. Keyed per engine: two engines
(two server instances in one test process) have two caches, as two processes would.

Thread-safe: uvicorn runs the server's sync routes in a thread pool. The maps are changed
under a lock; decoding happens outside it (two threads missing at once both decode; the first
one stored is kept, the same content either way). What is handed out is shared and must not be
changed by the caller (nothing in matching changes candidate facts: `rebuild`'s refresh works
on snapshots it decoded itself).

`PLACERING_RESIDENT=0` turns it off (each request reads and decodes the stored snapshot again,
as a short CLI process does anyway)."""

from __future__ import annotations

import os
import threading
import weakref
from datetime import date
from typing import Any, Callable, Iterable

KEEP_REVISIONS = 2
ENV = "PLACERING_RESIDENT"
SHARED_EVALUATORS = ("vectorized", "reference")


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "no", "false", "off")


class _Revision:
    """What is kept of one revision: lists by (day, insats), final prices by day, evaluators."""

    def __init__(self) -> None:
        self.lists: dict[tuple[date, str], tuple[list[dict], str | None]] = {}
        self.final_prices: dict[date, dict[str, list[tuple]]] = {}
        self.snapshots: dict[tuple[date, tuple[str, ...]], Any] = {}
        self.evaluators: dict[tuple, Any] = {}


class ResidentCache:
    """The decoded register snapshots of one database, kept by revision (module docstring)."""

    def __init__(self, keep: int = KEEP_REVISIONS) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._revisions: dict[int, _Revision] = {}
        self.hits = 0
        self.misses = 0

    # -- reading ---------------------------------------------------------------------------
    def snapshot(self, revision: int, on: date, wanted: Iterable[str]) -> Any:
        """The snapshot of these insatser at (revision, day) when all of them are kept, else None."""
        from ..rules.facts import RegisterSnapshot

        names = tuple(sorted(set(wanted)))
        with self._lock:
            rev = self._revisions.get(revision)
            if rev is None or on not in rev.final_prices:
                self.misses += 1
                return None
            snap = rev.snapshots.get((on, names))
            if snap is not None:
                self.hits += 1
                return snap
            found = [rev.lists.get((on, i)) for i in names]
            if any(f is None for f in found):
                self.misses += 1
                return None
            snap = RegisterSnapshot(on=on, by_insats={i: cands for i, (cands, _d) in zip(names, found)},
                                    final_prices=rev.final_prices[on],
                                    digests={i: d for i, (_c, d) in zip(names, found) if d is not None})
            rev.snapshots[(on, names)] = snap
            self.hits += 1
            return snap

    def evaluator(self, revision: int, on: date, snapshot: Any, ruleset: Any, kind: str,
                  build: Callable[[], Any]) -> Any:
        """The evaluator of `kind` loaded with this kept snapshot (built once by `build`)."""
        if kind not in SHARED_EVALUATORS:
            return build()
        key = (on, tuple(sorted(snapshot.by_insats)), id(snapshot), ruleset.version, kind)
        with self._lock:
            rev = self._revisions.get(revision)
            kept = rev is not None and rev.snapshots.get((on, key[1])) is snapshot
            found = rev.evaluators.get(key) if kept else None
        if found is not None:
            return found
        evaluator = build()
        if kind == "vectorized":
            for insats in snapshot.by_insats:  # the columns now, not in the first request's evaluation
                evaluator.table(insats)
        if kept:
            with self._lock:
                rev = self._revisions.get(revision)
                if rev is not None:
                    evaluator = rev.evaluators.setdefault(key, evaluator)
        return evaluator

    # -- keeping ---------------------------------------------------------------------------
    def put(self, revision: int, snapshot: Any, insatser: Iterable[str] | None = None) -> Any:
        """Keep what `snapshot` (of `revision` as of its day) holds of `insatser` (all it holds
        when None); returns the kept snapshot of those insatser (the same facts)."""
        on = snapshot.on
        names = tuple(sorted(set(snapshot.by_insats if insatser is None else insatser)))
        with self._lock:
            rev = self._revisions.get(revision)
            if rev is None:
                if len(self._revisions) >= self.keep and revision < min(self._revisions):
                    return snapshot  # older than every kept revision: used once, not kept
                rev = self._revisions[revision] = _Revision()
                for old in sorted(self._revisions)[:-self.keep]:
                    del self._revisions[old]
            rev.final_prices.setdefault(on, snapshot.final_prices)
            for insats in names:
                rev.lists.setdefault((on, insats), (snapshot.candidates(insats), snapshot.digests.get(insats)))
        return self.snapshot(revision, on, names) or snapshot

    def clear(self) -> None:
        with self._lock:
            self._revisions.clear()

    def revisions(self) -> list[int]:
        with self._lock:
            return sorted(self._revisions)

    def candidates_kept(self) -> int:
        """How many candidate facts are kept (each list once)."""
        with self._lock:
            return sum(len(cands) for rev in self._revisions.values() for cands, _d in rev.lists.values())


_CACHES: "weakref.WeakKeyDictionary[Any, ResidentCache]" = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(engine: Any) -> ResidentCache | None:
    """The resident cache of this engine's database (None when turned off)."""
    if not enabled() or engine is None:
        return None
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = ResidentCache()
        return cache
