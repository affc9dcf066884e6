"""Settings resolution: CLI > environment > pyproject > defaults, and errors that name their source."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import UsageError
from harness.settings import DEFAULT_ITERATIONS, DEFAULT_ROUNDS, Source, find_pyproject, resolve


def pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.ft-harness]\n" + body)
    return path


def test_defaults_and_a_fresh_seed() -> None:
    first = resolve({}, env={})
    assert (first.rounds, first.iterations) == (DEFAULT_ROUNDS, DEFAULT_ITERATIONS)
    seeds = {resolve({}, env={}).seed for _ in range(5)}
    assert len(seeds) > 1


def test_precedence_cli_over_env_over_pyproject(tmp_path: Path) -> None:
    toml = pyproject(tmp_path, 'threads = 3\nrounds = 4\niterations = 5\nreport-dir = "out"\n')
    env = {"FT_HARNESS_ROUNDS": "40", "FT_HARNESS_ITERATIONS": "50"}
    settings = resolve({"iterations": "500", "threads": None}, env=env, pyproject=toml)
    assert (settings.threads, settings.rounds, settings.iterations) == (3, 40, 500)
    assert settings.report_dir == tmp_path / "out"  # from the file's folder, wherever the run starts


def test_a_relative_report_dir_in_pyproject_is_the_files_folders_from_a_subfolder(tmp_path: Path) -> None:
    pyproject(tmp_path, 'report-dir = "out/r2"\n')
    (tmp_path / "sub").mkdir()
    found = find_pyproject(tmp_path / "sub")
    assert found is not None and resolve({}, env={}, pyproject=found).report_dir == tmp_path / "out" / "r2"
    assert resolve({"report_dir": "here"}, env={}, pyproject=found).report_dir == Path("here")  # flags: the cwd's


def test_ini_layer_sits_between_env_and_pyproject(tmp_path: Path) -> None:
    toml = pyproject(tmp_path, "threads = 3\nrounds = 4\n")
    ini = Source("in [tool.pytest.ini_options]", {"threads": "6", "rounds": "7"}, {"threads": "ft_threads"})
    settings = resolve({}, env={"FT_HARNESS_ROUNDS": "9"}, pyproject=toml, ini=ini)
    assert (settings.threads, settings.rounds) == (6, 9)


@pytest.mark.parametrize(
    ("cli", "env", "toml", "message"),
    [
        ({"threads": "0"}, {}, "", "bad --threads on the command line: '0', expected a positive integer"),
        ({"timeout_s": "soon"}, {}, "", "bad --timeout on the command line: 'soon'"),
        ({"seed": "-1"}, {}, "", "bad --seed on the command line: '-1'"),
        ({}, {"FT_HARNESS_ROUNDS": "x"}, "", "bad FT_HARNESS_ROUNDS in the environment: 'x'"),
        ({}, {}, "iterations = 2.5\n", "bad iterations in [tool.ft-harness] of"),
        ({}, {}, "thread = 2\n", "unknown key 'thread' in [tool.ft-harness]"),
        ({}, {}, "switch-interval = -1\n", "bad switch-interval in [tool.ft-harness]"),
    ],
)
def test_bad_values_name_their_source(tmp_path: Path, cli: dict, env: dict, toml: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve(cli, env=env, pyproject=pyproject(tmp_path, toml))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_broken_pyproject_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ft-harness\n")
    with pytest.raises(UsageError, match="cannot read"):
        resolve({}, env={}, pyproject=tmp_path / "pyproject.toml")


def test_find_pyproject_walks_up(tmp_path: Path) -> None:
    toml = pyproject(tmp_path, "")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_pyproject(nested) == toml


def test_scenario_overrides_replace_only_what_they_set() -> None:
    base = resolve({"threads": 2, "rounds": 3, "iterations": 4, "seed": 5}, env={})
    changed = base.overridden(threads=8, rounds=None, iterations=None)
    assert (changed.threads, changed.rounds, changed.iterations, changed.seed) == (8, 3, 4, 5)
