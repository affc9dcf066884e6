"""Pick autobahn's WebSocket backend (NVX or its pure-Python fallbacks) for this process, before autobahn loads.

autobahn chooses once, at import of ``autobahn.websocket``, from ``AUTOBAHN_USE_NVX`` ("1": NVX or fail,
"0": pure Python). A scenario calls :func:`use` in ``setup()``; scenarios run isolated, one fresh process each,
so the first call decides. The compiled NVX classes stay importable from ``autobahn.nvx`` either way, which
is how a pure-backend process holds both implementations for the differential checks.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Literal

Backend = Literal["nvx", "pure"]
_ENV = "AUTOBAHN_USE_NVX"
_SETTING = {"nvx": "1", "pure": "0"}


def use(backend: Backend) -> None:
    """Make autobahn use ``backend`` in this process; raises if autobahn already loaded with the other one."""
    loaded = sys.modules.get("autobahn.websocket")
    if loaded is None:
        os.environ[_ENV] = _SETTING[backend]
        import autobahn.websocket

        loaded = autobahn.websocket
    if (backend == "nvx") != loaded.USES_NVX:
        raise RuntimeError(
            f"autobahn is already loaded with USES_NVX={loaded.USES_NVX} in this process, but the scenario needs "
            f"backend {backend!r}: run it isolated (a fresh process per scenario)"
        )


def variants(base: type) -> tuple[type, type]:
    """``base`` as two scenario classes with ``backend = "nvx"`` and ``"pure"``, named ``<Base>Nvx``/``Pure``."""
    name = base.__name__.lstrip("_")
    made = []
    for backend in ("nvx", "pure"):
        cls = type(f"{name}{backend.title()}", (base,), {"backend": backend, "__module__": base.__module__})
        cls.__qualname__ = cls.__name__
        made.append(cls)
    return made[0], made[1]


def pure_classes() -> dict[str, Any]:
    """autobahn's own pure-Python validator and maskers (the process must use the pure backend)."""
    use("pure")
    from autobahn.websocket import utf8validator, xormasker

    return {
        "Utf8Validator": utf8validator.Utf8Validator,
        "XorMaskerSimple": xormasker.XorMaskerSimple,
        "XorMaskerShifted1": xormasker.XorMaskerShifted1,
    }


def nvx_classes() -> dict[str, Any]:
    """autobahn's NVX (cffi) validator and maskers, whichever backend the WebSocket layer uses."""
    from autobahn.nvx import _utf8validator, _xormasker

    return {
        "Utf8Validator": _utf8validator.Utf8Validator,
        "XorMaskerSimple": _xormasker.XorMaskerSimple,
        "XorMaskerShifted1": _xormasker.XorMaskerShifted1,
    }
