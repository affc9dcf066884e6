"""Seeded bug: a lazily initialised registry; two first callers each create the table and one's entries are lost.

``LostRegistrations`` is the broken scenario, ``AllRegistrations`` its correct twin (initialisation under a lock).
The race exists only on first use, so it needs many short rounds, each with a fresh registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Plugin = Callable[[str], str]

DEFAULT_PLUGINS: dict[str, Plugin] = {f"builtin-{n}": str.upper for n in range(64)}


class PluginRegistry:
    """Maps names to plugins; the table is created on first use, seeded with the built-in plugins."""

    def __init__(self) -> None:
        self._plugins: dict[str, Plugin] | None = None

    def register(self, name: str, plugin: Plugin) -> None:
        self._table()[name] = plugin

    def names(self) -> set[str]:
        return set(self._table())

    def _table(self) -> dict[str, Plugin]:
        if self._plugins is None:
            self._plugins = self._load_defaults()
        return self._plugins

    def _load_defaults(self) -> dict[str, Plugin]:
        """The built-in plugins, each checked: the work that made the author initialise lazily."""
        return {name: plugin for name, plugin in DEFAULT_PLUGINS.items() if callable(plugin)}


class LockedPluginRegistry(PluginRegistry):
    """The same registry with check-and-create done once, under a lock (double-checked)."""

    def __init__(self) -> None:
        super().__init__()
        self._init_lock = threading.Lock()

    def _table(self) -> dict[str, Plugin]:
        table = self._plugins
        if table is None:
            with self._init_lock:
                table = super()._table()
        return table


class _RegistryScenario:
    """Every thread registers its own names in one fresh registry; verify wants every name present."""

    registry_type: type[PluginRegistry]
    threads: int
    iterations: int

    def setup(self) -> None:
        self.registry = self.registry_type()

    def step(self, thread_index: int, iteration: int) -> None:
        self.registry.register(f"t{thread_index}-{iteration}", str.lower)

    def verify(self) -> None:
        wanted = {f"t{t}-{i}" for t in range(self.threads) for i in range(self.iterations)} | set(DEFAULT_PLUGINS)
        lost = wanted - self.registry.names()
        if lost:
            raise AssertionError(f"{len(lost)} of {len(wanted)} registrations lost, e.g. {sorted(lost)[0]}")


class LostRegistrations(_RegistryScenario):
    """Broken: the unlocked lazy initialisation."""

    registry_type = PluginRegistry


class AllRegistrations(_RegistryScenario):
    """Correct twin: the locked lazy initialisation."""

    registry_type = LockedPluginRegistry
