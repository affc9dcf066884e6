"""Held-out race: per-object notes kept in a registry keyed by ``id(obj)``, created on first use.

The subjects are dicts (unhashable), so the registry keys them by ``id()``; ``note_for`` looks the note up
and creates it when missing. Two threads asking for a new subject's note together both create one, and the
second store replaces the first: whatever the first thread wrote to its note is lost. ``LostNotes`` is the
broken scenario; ``KeptNotes`` is the correct twin (lookup and creation under one lock).
"""

from __future__ import annotations

import threading
from typing import Any


class Note:
    """What the threads record about one subject."""

    def __init__(self, subject: dict[str, Any]) -> None:
        self.subject = subject
        self.readers: list[int] = []


class NoteRegistry:
    """Notes by subject identity; the caller keeps the subjects alive while their notes are in use."""

    def __init__(self) -> None:
        self._by_id: dict[int, Note] = {}

    def note_for(self, subject: dict[str, Any]) -> Note:
        key = id(subject)
        note = self._by_id.get(key)
        if note is None:
            note = Note(subject)
            self._by_id[key] = note
        return note


class LockedNoteRegistry(NoteRegistry):
    """The same registry with the lookup-or-create under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def note_for(self, subject: dict[str, Any]) -> Note:
        with self._lock:
            return super().note_for(subject)


class _NoteScenario:
    """Every thread visits the same fresh subjects in the same order and signs each one's note."""

    registry_type: type[NoteRegistry]
    threads: int
    iterations: int

    def setup(self) -> None:
        self.registry = self.registry_type()
        self.subjects = [{"row": n} for n in range(self.iterations)]

    def step(self, thread_index: int, iteration: int) -> None:
        self.registry.note_for(self.subjects[iteration]).readers.append(thread_index)

    def verify(self) -> None:
        short = [n for n, subject in enumerate(self.subjects)
                 if sorted(self.registry.note_for(subject).readers) != list(range(self.threads))]
        if short:
            raise AssertionError(f"{len(short)} of {len(self.subjects)} notes lost a signature, e.g. row {short[0]}")


class LostNotes(_NoteScenario):
    """Broken: the unlocked lookup-or-create."""

    registry_type = NoteRegistry


class KeptNotes(_NoteScenario):
    """Correct twin: the locked lookup-or-create."""

    registry_type = LockedNoteRegistry
