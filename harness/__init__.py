"""ft-harness: the free-threading safety gate for Python extensions.

The folders are the pipeline, in order: ``interpreter`` (facts, finding one, starting its children) ->
``wheel`` (tags, venv) -> ``audit`` (the import audit) -> ``engine`` (thread stress) -> ``pipeline`` (the run
record, the verdict, the judge and the gate) -> ``report``; the front ends ``commands`` (the CLI) and
``pytest_plugin`` sit on top; ``settings`` and ``targets`` are shared ground. This module holds the exit codes
and the user-facing errors that map to them (one line each, never a traceback).
"""

__version__ = "0.1.0"

EXIT_SAFE = 0
EXIT_UNSAFE = 1
EXIT_USAGE = 2
EXIT_UNFIT = 3
# Nothing failed, but nothing was gated: a gate run that stressed nothing under ``--require-stress``, or a
# release whose free-threaded cell has no safe gate report.
EXIT_NOT_GATED = 4
# A run stopped by a signal exits as a shell reports a process killed by it: 128 + the signal number.
EXIT_INTERRUPTED = {"SIGINT": 130, "SIGTERM": 143}


class HarnessError(Exception):
    """An error shown to the user as one line; ``exit_code`` is what the command exits with."""

    exit_code = EXIT_USAGE


class UsageError(HarnessError):
    """Bad flag, bad value, unknown target or unreadable input (exit 2)."""

    exit_code = EXIT_USAGE


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (raised in the main thread by the command line's signal handler); the run
    writes what it has, marked interrupted, and exits with :data:`EXIT_INTERRUPTED` of the signal."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name

    @property
    def exit_code(self) -> int:
        return EXIT_INTERRUPTED[self.signal_name]


class UnfitError(HarnessError):
    """The interpreter cannot give a free-threading verdict (exit 3)."""

    exit_code = EXIT_UNFIT
