"""ft-harness: the free-threading safety gate for Python extensions (import audit, stress engine, verdict, report)."""

__version__ = "0.1.0"
