"""Held-out race: a reloaded configuration is published to readers before its fields are set.

``PublishedEarly`` is the broken scenario: the reloader stores the new ``Config`` in the shared slot first
and fills it in after, so a reader picking it up in between finds no ``limits`` (AttributeError).
``PublishedWhenReady`` is the correct twin: the object is complete before the one store that publishes it.
"""

from __future__ import annotations

ENDPOINTS = ("search", "upload", "login", "export")


class Config:
    """Rate limits per endpoint, at one version."""

    version: int
    limits: dict[str, int]


def _fill(config: Config, version: int) -> None:
    config.version = version
    config.limits = {name: 100 * (n + 1) + version for n, name in enumerate(ENDPOINTS)}


class ConfigHolder:
    """Holds the current configuration; readers look limits up, a reloader swaps in new versions."""

    def __init__(self) -> None:
        self.current = Config()
        _fill(self.current, 0)

    def reload(self, version: int) -> None:
        config = Config()
        self.current = config
        _fill(config, version)

    def limit(self, endpoint: str) -> int:
        return self.current.limits[endpoint]


class ReadyConfigHolder(ConfigHolder):
    """The same holder; a new configuration is filled in before it is stored where readers look."""

    def reload(self, version: int) -> None:
        config = Config()
        _fill(config, version)
        self.current = config


class _ReloadScenario:
    """A reader looks limits up while a reloader publishes a new version on every iteration."""

    holder_type: type[ConfigHolder]
    roles = ("reader", "reloader")
    iterations: int

    def setup(self) -> None:
        self.holder = self.holder_type()

    def reader(self, thread_index: int, iteration: int) -> None:
        self.holder.limit(ENDPOINTS[iteration % len(ENDPOINTS)])

    def reloader(self, thread_index: int, iteration: int) -> None:
        self.holder.reload(iteration + 1)

    def verify(self) -> None:
        config = self.holder.current
        if config.version != self.iterations or len(config.limits) != len(ENDPOINTS):
            raise AssertionError(f"final config at version {config.version}, expected {self.iterations}")


class PublishedEarly(_ReloadScenario):
    """Broken: publish, then fill in."""

    holder_type = ConfigHolder


class PublishedWhenReady(_ReloadScenario):
    """Correct twin: fill in, then publish."""

    holder_type = ReadyConfigHolder
