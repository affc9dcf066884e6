"""A fresh venv for a wheel (uv), the wheel installed into it (with any extra requirements), what it installed
(read from its RECORD), the user's scenario folders made importable there (a ``.pth`` file: in that venv
only), and the targets its distributions register."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from harness import UnfitError, UsageError
from harness.interpreter.children import TIMEOUT_S, ask, child_env, run_uv
from harness.targets import ENTRY_POINT_GROUP, ScenarioSpec, Target
from harness.wheel.extensions import file_is_extension
from harness.wheel.tags import is_extension_module

_SITE_MARKER = "FT-HARNESS-SITE:"
_TARGETS_MARKER = "FT-HARNESS-TARGETS:"
_TARGETS_SOURCE = f"""
import dataclasses, json
from importlib import metadata
from harness.targets import Target
found = {{}}
for ep in metadata.entry_points(group={ENTRY_POINT_GROUP!r}):
    try:
        target = ep.load()
    except Exception as exc:
        found[ep.name] = {{"error": f"cannot load {{ep.value}}: {{type(exc).__name__}}: {{exc}}"}}
        continue
    found[ep.name] = (dataclasses.asdict(target) if isinstance(target, Target)
                      else {{"error": f"{{ep.value}} is not a harness.targets.Target"}})
print({_TARGETS_MARKER!r} + json.dumps(found))
"""
_SITE_PATHS_SOURCE = (
    f"import json, sysconfig; print({_SITE_MARKER!r} + json.dumps([sysconfig.get_path('purelib'), "
    "sysconfig.get_path('platlib')]))"
)


@dataclass(frozen=True)
class InstalledDistribution:
    """What the wheel put into the venv, from its RECORD: extension modules and top-level import names."""

    site_packages: Path
    extension_modules: tuple[str, ...]
    top_level: tuple[str, ...]
    modules: tuple[str, ...] = ()  # every importable module, packages included (the audit benchmark's list)

    def to_json(self) -> dict[str, object]:
        return {
            "site_packages": str(self.site_packages),
            "extension_modules": list(self.extension_modules),
            "top_level": list(self.top_level),
        }


def create_venv(python: str, directory: Path) -> str:
    """A fresh venv of ``python`` at ``directory`` (which must not exist); returns its python."""
    uv_step(["venv", "--no-project", "--python", python, str(directory)], TIMEOUT_S["uv venv"], "create a venv")
    for candidate in (directory / "bin" / "python", directory / "Scripts" / "python.exe"):
        if candidate.is_file():
            return str(candidate)
    raise UnfitError(f"uv created {directory} but it holds no python executable")


def install(venv_python: str, wheel: Path, requirements: Sequence[str] = ()) -> list[str]:
    """Install the wheel and its dependencies (from the configured index) into the venv, with ``requirements``
    (``mypkg[test]``, a target package) resolved together with it; uv's warnings (an extra the package does not
    have installs nothing, and is no error to uv)."""
    return uv_step(["pip", "install", "--python", venv_python, str(wheel), *requirements], TIMEOUT_S["uv install"],
                   f"install {' '.join([wheel.name, *requirements])}")


def install_requirements(venv_python: str, requirements: Sequence[str]) -> None:
    """Install more requirements into the venv (the test runner and its plugins)."""
    uv_step(["pip", "install", "--python", venv_python, *requirements], TIMEOUT_S["uv install"],
            f"install {' '.join(requirements)}")


def add_import_paths(venv_python: str, folders: Sequence[Path]) -> Path:
    """Make ``folders`` importable in the venv (and only there): one ``.pth`` file in its site-packages."""
    pth = site_paths(venv_python)[0] / "ft_harness_scenario_paths.pth"
    pth.write_text("".join(f"{folder.resolve()}\n" for folder in folders), encoding="utf-8")
    return pth


def site_paths(venv_python: str) -> list[Path]:
    """The venv's purelib and platlib folders (one when they are the same)."""
    try:
        answer = ask(venv_python, _SITE_PATHS_SOURCE, marker=_SITE_MARKER, timeout_s=TIMEOUT_S["site-packages"],
                     flags=["-I"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UnfitError(f"cannot ask {venv_python} for its site-packages: {exc}") from None
    if answer.data is None:
        raise UnfitError(f"cannot ask {venv_python} for its site-packages: {answer.last_error_line()}")
    return list(dict.fromkeys(Path(p) for p in answer.data))


def registered_targets(venv_python: str, say: Callable[[str], None]) -> dict[str, Target]:
    """The targets the venv's distributions register under ``ft_harness.targets``, loaded there (one that
    cannot be loaded is skipped and said)."""
    try:
        answer = ask(venv_python, _TARGETS_SOURCE, marker=_TARGETS_MARKER, timeout_s=TIMEOUT_S["import"],
                     env=child_env(venv_python))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UnfitError(f"cannot ask {venv_python} for its registered targets: {exc}") from None
    if answer.data is None:
        raise UnfitError(f"cannot ask {venv_python} for its registered targets: {answer.last_error_line()}")
    targets = {}
    for name, data in answer.data.items():
        if "error" in data:
            say(f"skipping target {name} (installed in the venv): {data['error']}")
            continue
        scenarios = tuple(ScenarioSpec(**spec) for spec in data.pop("scenarios"))
        targets[name] = Target(**{**data, "modules": tuple(data["modules"]), "scenarios": scenarios,
                                  "distributions": tuple(data["distributions"])})
    return targets


def installed_distribution(venv_python: str, distribution: str) -> InstalledDistribution:
    """Find the distribution's RECORD in the venv and list its extension modules and top-level modules."""
    for site in site_paths(venv_python):
        for dist_info in sorted(site.glob("*.dist-info")):
            if canonicalize_name(dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0]) == distribution:
                return modules_from_record(site, (dist_info / "RECORD").read_text(encoding="utf-8"))
    raise UsageError(f"after installing, {venv_python} has no .dist-info for {distribution}")


def modules_from_record(site_packages: Path, record_file_text: str) -> InstalledDistribution:
    """Extension modules (dotted names) and top-level import names from a RECORD file's paths; a shared object
    without an init symbol (a ctypes library) is neither."""
    extensions: list[str] = []
    top_level: list[str] = []
    modules: list[str] = []
    for row in csv.reader(io.StringIO(record_file_text)):
        if not row:
            continue
        parts = PurePosixPath(row[0]).parts
        if not parts or parts[0] == ".." or "__pycache__" in parts or parts[0].endswith((".dist-info", ".data")):
            continue
        is_extension = is_extension_module(row[0]) and file_is_extension(site_packages / row[0])
        if not (is_extension or parts[-1].endswith(".py")):
            continue
        dotted = [*parts[:-1], parts[-1].split(".", 1)[0]]
        if not all(name.isidentifier() for name in dotted):
            continue
        if is_extension:
            extensions.append(".".join(dotted))
        top_level.append(dotted[0])
        modules.append(".".join(dotted[:-1] if dotted[-1] == "__init__" and len(dotted) > 1 else dotted))
    return InstalledDistribution(site_packages, tuple(sorted(set(extensions))), tuple(sorted(set(top_level))),
                                 tuple(sorted(set(modules))))


def uv_step(args: list[str], timeout_s: float, what: str) -> list[str]:
    """Run ``uv ARGS``: its warning lines; ``UnfitError`` (exit 3) naming ``what`` and uv's last lines when it
    fails or times out."""
    try:
        done = run_uv(args, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise UnfitError(f"uv could not {what} within {timeout_s:g} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        detail = " ".join(lines[-3:]) or f"exit status {done.returncode}"
        raise UnfitError(f"uv could not {what}: {detail}")
    return [line.strip() for line in (done.stderr or "").splitlines() if line.startswith("warning:")]
