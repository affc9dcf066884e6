"""The corpus's C pieces, built at first use into a cache directory that the engine's child processes share.

Each build lands in ``<cache>/<SOABI>/<name>-<hash of its inputs>/`` and is published by renaming a
finished temporary directory, so concurrent builders (test workers, benchmark children) never see half a
module. The cache is ``$FT_HARNESS_CORPUS_CACHE`` or a per-user directory under the system temp dir.
Compiling is :mod:`tests.support.cbuild`'s job; this module only caches and loads.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.support import cbuild

CACHE_ENV = "FT_HARNESS_CORPUS_CACHE"
_SOURCES = Path(__file__).resolve().parent


def cache_root() -> Path:
    """Where built corpus modules live (per user; per interpreter ABI below it, a TSan build's apart)."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    root = Path(configured) if configured else Path(tempfile.gettempdir()) / f"ft-harness-corpus-{os.getuid()}"
    tsan = "-tsan" if "--with-thread-sanitizer" in (sysconfig.get_config_var("CONFIG_ARGS") or "") else ""
    return root / (sysconfig.get_config_var("SOABI") + tsan)


def _cached_build(name: str, inputs: str, build: Callable[[Path], Path]) -> Path:
    """The directory holding module ``name`` built from ``inputs`` by ``build(out_dir)``, building it once.

    The key also covers the builder and the cffi version, so changing either rebuilds.
    """
    builder = Path(cbuild.__file__).read_text(encoding="utf-8")
    key = "\0".join((inputs, builder, importlib.metadata.version("cffi")))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    final = cache_root() / f"{name}-{digest}"
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        build(staging)
        os.rename(staging, final)
    except OSError:
        if not final.is_dir():  # a concurrent builder did not win the rename either
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _load_extension(name: str, folder: Path) -> ModuleType:
    path = folder / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load corpus module {name} from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def cffi_module(stem: str, cdef: str) -> tuple[Any, Any]:
    """``(ffi, lib)`` of the cffi module built from ``tests/corpus/<stem>.c`` with ``cdef``."""
    name = f"_corpus_{stem}"
    source = (_SOURCES / f"{stem}.c").read_text(encoding="utf-8")
    folder = _cached_build(name, cdef + source, lambda out: cbuild.build_cffi(name, cdef, source, out))
    module = _load_extension(name, folder)
    return module.ffi, module.lib


def plain_module(*, free_threading: bool) -> tuple[str, Path]:
    """``(module name, directory to put on sys.path)`` of a plain C-API module, with or without the declaration."""
    name = "_corpus_gil_declared" if free_threading else "_corpus_gil_undeclared"
    source = cbuild.plain_module_source(name, free_threading=free_threading)
    folder = _cached_build(
        name, source, lambda out: cbuild.build_plain_module(name, out, free_threading=free_threading)
    )
    return name, folder
