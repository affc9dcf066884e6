"""The held-out detection corpus: narrow-window races written fresh, never used to choose defaults.

Same :class:`tests.corpus.Case` records as the main corpus, so :mod:`tests.corpus.runner` runs them and
``python -m tests.corpus.benchmark`` measures both corpora side by side. See README.md for the rules a case
follows; ``tests/test_corpus_heldout.py`` forces each race deterministically and runs each twin.
"""

from __future__ import annotations

from tests.corpus import Case

_PACKAGE = __name__

CASES: tuple[Case, ...] = (
    Case("publish-before-init",
         "reloaded config stored where readers look before its fields are set: AttributeError in a reader",
         "stress", f"{_PACKAGE}.published_config:PublishedEarly", f"{_PACKAGE}.published_config:PublishedWhenReady",
         "failed"),
    Case("list-shifted-while-iterated",
         "watcher list iterated while another thread inserts and removes in front: events skipped or repeated",
         "stress", f"{_PACKAGE}.watchers:ShiftedWhileDispatching", f"{_PACKAGE}.watchers:SnapshotDispatching",
         "failed"),
    Case("property-counter",
         "hit counter behind a property, bumped with `stats.hits += 1` (stateful form): lost increments",
         "stress", f"{_PACKAGE}.stats_property:LostHits", f"{_PACKAGE}.stats_property:CountedHits", "failed"),
    Case("id-keyed-registry",
         "notes keyed by id(obj), created on first lookup: two creators, one thread's note lost",
         "stress", f"{_PACKAGE}.id_registry:LostNotes", f"{_PACKAGE}.id_registry:KeptNotes", "failed"),
    Case("dict-grown-in-comprehension",
         "balances dict grown while a dict comprehension formats it: RuntimeError changed size during iteration",
         "stress", f"{_PACKAGE}.ledger:GrownWhileReported", f"{_PACKAGE}.ledger:ReportedUnderLock", "failed"),
    Case("bounded-buffer-check-then-put",
         "bounded buffer checks for room, then appends to a deque(maxlen): accepted items silently dropped",
         "stress", f"{_PACKAGE}.bounded_buffer:DroppedItems", f"{_PACKAGE}.bounded_buffer:KeptItems", "failed"),
    Case("lru-move-on-read",
         "LRU cache moves an entry to the end on read while another reader's miss evicts it (Race form): KeyError",
         "stress", f"{_PACKAGE}.lru:EvictedWhileRead", f"{_PACKAGE}.lru:ReadUnderLock", "failed"),
    Case("python-refcount",
         "reference count kept in Python with += / -=: buffer freed while held, or leaked",
         "stress", f"{_PACKAGE}.refcount:FreedWhileHeld", f"{_PACKAGE}.refcount:CountedUnderLock", "failed"),
    Case("class-attribute-cache",
         "lookup table built lazily into a class attribute, stored empty then filled: KeyError on first use",
         "stress", f"{_PACKAGE}.class_cache:PublishedHalfBuilt", f"{_PACKAGE}.class_cache:PublishedWhole", "failed"),
    Case("double-checked-singleton",
         "double-checked singleton without the check under the lock: two instances on first use",
         "stress", f"{_PACKAGE}.singleton:TwoInstances", f"{_PACKAGE}.singleton:OneInstance", "failed"),
)
