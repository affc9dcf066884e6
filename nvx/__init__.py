"""NVX: incremental UTF-8 validation and WebSocket XOR masking, free-threading safe by design.

``Utf8Validator`` and ``XorMasker`` follow autobahn's NVX; ``mask(data, key, offset=0)`` masks one frame
in one call, without building a masker.

``BACKEND`` names the implementation in use: ``"cffi"`` (the compiled extension ``nvx._nvx_cffi``)
or ``"pure"`` (``nvx._pure``, used when the extension is not built). Setting ``NVX_BACKEND=pure``
forces the pure backend; ``NVX_BACKEND=cffi`` makes a missing extension an ImportError.
"""

from __future__ import annotations

import os

_REQUESTED = os.environ.get("NVX_BACKEND", "")
if _REQUESTED not in ("", "pure", "cffi"):
    raise ImportError(f"NVX_BACKEND={_REQUESTED!r}: expected 'pure', 'cffi' or unset")

if _REQUESTED == "pure":
    from nvx._pure import Utf8Validator, XorMasker, mask

    BACKEND = "pure"
else:
    try:
        # One public name for either backend (same interface, not the same class).
        from nvx._compiled import Utf8Validator, XorMasker, mask  # type: ignore[assignment]

        BACKEND = "cffi"
    except ImportError:
        if _REQUESTED == "cffi":
            raise
        from nvx._pure import Utf8Validator, XorMasker, mask

        BACKEND = "pure"

__all__ = ("BACKEND", "Utf8Validator", "XorMasker", "mask")
