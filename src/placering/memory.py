"""Keeping Python's cyclic garbage collector out of bulk work and off long-lived data.

Building or decoding a register snapshot allocates hundreds of thousands of small dicts and
lists that hold no reference cycles. While they are made, the collector runs again and again
over the growing heap and finds nothing: at 20,000 units that is about half the time of
building the snapshot. `gc_paused()` switches it off for such a block; reference counting
still frees everything as usual, and what became garbage in a cycle is collected later.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def freeze_long_lived(*, collect: bool = False) -> None:
    """Move everything that exists now out of the collector's generations: what a command
    imported, a resident register snapshot, a parsed import file live as long as the process,
    and every full collection would scan them again (about half the time per request of a long
    batch at 20,000 units). `collect` first frees what is garbage now (it would stay otherwise);
    worth it before a long run, not for a few requests."""
    if collect:
        gc.collect()
    gc.freeze()


def age_all() -> None:
    """Move everything that exists now to the oldest generation without scanning it (frozen and
    let go again): after a paused block (`gc_paused`) every object it made is young, and the
    first collection once the collector is back would scan all of them. A full collection,
    much later if ever, still frees what became garbage in a cycle. For the end of a short
    command (`init --demo`): what an earlier `freeze_long_lived` kept out of the collector's
    sight is back in its oldest generation too."""
    gc.freeze()
    gc.unfreeze()


_PER_LIST: dict[tuple[str, int], tuple[list, Any]] = {}


def per_list(kind: str, items: list, build: Callable[[list], T]) -> T:
    """`build(items)`, kept while `items` is the same list object: what a batch derives from
    a snapshot's candidate list once (its protected units, its units) rather than per request.
    Kept by identity (the list is held, so its id is not reused); a long-lived process (tests,
    a server) sees many snapshots, so the memo is bounded."""
    key = (kind, id(items))
    found = _PER_LIST.get(key)
    if found is None or found[0] is not items:
        if len(_PER_LIST) > 128:
            _PER_LIST.clear()
        found = _PER_LIST[key] = (items, build(items))
    return found[1]
