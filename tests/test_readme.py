"""README's commands cannot drift: each shell command in its ``bash``/``console`` blocks is listed here with the
test or CI step that runs it (and that place must still contain it); the cheap ones run here, and every flag of
the command-line synopsis must be one its subcommand's ``--help`` knows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli_core import ALLOW, harness

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")

# Each README command -> (file that runs it, text that file must contain).
EXERCISED = {
    "uv run --python 3.14t python -m harness stress --target nvx":
        ("tests/test_readme.py", "def test_quick_start_stress_of_the_bundled_target"),
    "uv run --python 3.14t --extra test pytest": (".ci/run", "run_pytest uv run --python 3.14t --extra test pytest\n"),
    "uv tool install --python 3.14t .": (".github/workflows/release-gate.yml", "uv tool install --python 3.14t ."),
    "uv build --wheel --python 3.14t": ("tests/test_gate.py", 'run_uv(["build", "--wheel", "--python"'),
    "python3.14t -m pip install dist/ft_harness-*.whl uv":
        ("tests/test_gate.py", "def test_gate_project_wheel_is_safe"),  # that wheel, installed in a fresh venv
    "uv sync --python 3.14t --extra autobahn": (".ci/run", "--extra test --extra autobahn"),
    "ft-harness gate --wheel dist/mypkg-1.2.0-cp314-cp314t-linux_x86_64.whl --python 3.14t --report-dir reports":
        ("tests/test_gate.py", 'gate(capsys, "--wheel", str(wheel), "--report-dir"'),
    "ft-harness fileset wheelhouse --expect cp314-manylinux_aarch64 cp314t-manylinux_aarch64 "
    "cp314-manylinux_x86_64 cp314t-manylinux_x86_64": ("tests/test_fileset.py", 'main(["fileset", str(directory)'),
    "ft-harness release dist --reports ft-reports --expect cp314-manylinux_x86_64 cp314t-manylinux_x86_64 "
    "cp314-manylinux_aarch64 cp314t-manylinux_aarch64 cp314-macosx_arm64 cp314t-macosx_arm64 "
    "cp314-win_amd64 cp314t-win_amd64 --junit ft-release/junit.xml --sarif ft-release/release.sarif":
        ("tests/test_ci_formats.py", 'main(["release", str(dist), "--reports"'),
    "uv run --python 3.14t python -m harness bench nvx [--gil-python /path/to/python3.14]":
        ("tests/test_bench_nvx.py", 'run_cli("bench", "nvx", "--quick"'),
    "uv run --python 3.14t python -m harness bench audit --target nvx [--distribution NAME] [--python SPEC]":
        ("tests/test_bench_audit.py", '"bench", "audit", "--target", "nvx"'),
    "uv run --python 3.14t python -m tests.corpus.benchmark [--corpus main|heldout|both] [--replays K] [--load N]":
        ("tests/test_corpus_benchmark.py", "benchmark.main(["),
    "uv run --python 3.14t --extra test pytest -k nvx --parallel-threads=4":
        (".ci/run", "--extra test pytest tests -k nvx --parallel-threads=4"),
    "uv run --python 3.14t --extra test pytest --hypothesis-profile=thorough": ("conftest.py", '"thorough"'),
    "bash .ci/run": (".ci/run", "#!/usr/bin/env bash"),  # the CI script itself: CI runs it
    "ft-harness stress --tsan --target nvx": ("tests/test_tsan.py", '"stress", "--tsan", "--target", "nvx"'),
    'TSAN_OPTIONS="log_path=$PWD/tsan-logs/tsan halt_on_error=0 exitcode=0" python3.14t -m pytest':
        ("tests/test_tsan_e2e.py", '"TSAN_OPTIONS": f"log_path='),
    # The msgpack recipe's gate forms, run on a demo wheel built in the test (msgpack itself comes from PyPI).
    "ft-harness gate --wheel msgpack-*-cp314t-*.whl --python 3.14t --tests msgpack-*/test --min-parallel-tests 100":
        ("tests/test_gate_own_stress.py", '"--min-parallel-tests", floor'),
    "ft-harness gate --wheel msgpack-*-cp314t-*.whl --python 3.14t":
        ("tests/test_gate.py", '(b"VALUE = 1\\n", [], 0, "imports-only", "import demo: gil-free")'),
    "ft-harness gate --wheel msgpack-*-cp314t-*.whl --python 3.14t --require-stress":
        ("tests/test_gate.py", '(b"VALUE = 1\\n", ["--require-stress"], 4, "imports-only"'),
}

# README commands no test or CI step runs, each with the reason; they must still be in README.
NOT_RUN = {
    "../cpython/configure --prefix=/opt/cpython-3.14t-tsan --disable-gil --with-thread-sanitizer "
    "--without-ensurepip --disable-test-modules": "provisions the machine (a CPython build), done once by hand",
    'make -j"$(nproc)"': "provisions the machine (a CPython build), done once by hand",
    'make -o checksharedmods install PYTHON_FOR_BUILD="/opt/cpython-3.14t/bin/python3.14t -E"':
        "provisions the machine (a CPython build), done once by hand",
    "ft-harness gate --tsan --sdist dist/mypkg-1.0.tar.gz":
        "an instrumented build of a whole project takes tens of minutes here; the TSan gate's refusal of a prebuilt "
        "wheel and TSan mode on a built extension are tested in tests/test_tsan_e2e.py",
    "ft-harness gate --tsan --project . --tsan-suppressions my-tsan.supp":
        "as the --sdist form",
    "pip download --only-binary :all: --python-version 3.14 --abi cp314t --platform manylinux_2_17_x86_64 --no-deps "
    "msgpack": "downloads from PyPI (the test suite runs offline); the recipe's gate forms run on a demo wheel",
    "pip download --no-binary :all: --no-deps msgpack && tar xzf msgpack-*.tar.gz":
        "downloads from PyPI (the test suite runs offline); --tests runs a demo wheel's own test folder instead",
}


def readme_commands(text: str) -> list[str]:
    """Shell commands of the ``bash`` blocks (comments dropped) and ``console`` blocks (``$`` lines, with their
    backslash continuations)."""
    commands = []
    for language, body in re.findall(r"```(bash|console)\n(.*?)```", text, flags=re.S):
        lines = body.replace("\\\n", " ").splitlines()
        if language == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        for line in lines:
            command = " ".join(re.sub(r"\s+#.*$", "", line).split())
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_every_readme_command_is_run_by_a_test_or_ci() -> None:
    commands = readme_commands(README)
    assert len(commands) >= 10, commands
    unlisted = [c for c in commands if c not in EXERCISED and c not in NOT_RUN]
    assert unlisted == [], f"README commands no test or CI runs (add one and list it in EXERCISED): {unlisted}"
    stale = [c for c in [*EXERCISED, *NOT_RUN] if c not in commands]
    assert stale == [], f"EXERCISED lists commands README no longer has: {stale}"
    for command, (path, needle) in EXERCISED.items():
        assert needle in (REPO / path).read_text(encoding="utf-8"), f"{path} no longer runs {command!r}"


def test_the_extraction_sees_a_new_command() -> None:
    text = README + "\n```bash\nft-harness frobnicate --now   # new\n```\n"
    assert "ft-harness frobnicate --now" in readme_commands(text)


def _synopsis() -> list[str]:
    block = README.split("## Command line\n\n```text\n", 1)[1].split("```", 1)[0]
    return [line for line in block.replace("\n  ", " ").splitlines() if line.startswith("ft-harness ")]


@pytest.mark.parametrize("line", _synopsis(), ids=lambda line: line.split()[1])
def test_every_synopsis_flag_is_in_the_subcommands_help(line: str) -> None:
    words = line.split()
    command = words[1:3] if words[1] == "bench" else words[1:2]
    done = subprocess.run([sys.executable, "-m", "harness", *command, "--help"], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    flags = set(re.findall(r"--[a-z][a-z-]*", line))
    missing = sorted(flag for flag in flags if flag not in done.stdout)
    assert missing == [], f"{' '.join(command)} --help lacks {missing}"


def test_quick_start_stress_of_the_bundled_target(tmp_path: Path) -> None:
    """README's first command (``stress --target nvx``) at small sizes."""
    proc = harness(tmp_path, "stress", "--target", "nvx", "--rounds", "2", "--iterations", "20", *ALLOW)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "verdict: safe (exit 0)" in proc.stdout
