"""Child-process entry of :mod:`harness.engine.isolation`: run one scenario in-process, write the result file, exit.

Usage (internal): ``python -P -m harness.engine._child REQUEST.json``. The result file is written atomically and the
process leaves with ``os._exit`` so threads stuck in a hung scenario cannot block or crash its exit. A child forked
by :mod:`harness.engine._forkserver` runs :func:`run_request` the same way.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from harness import UsageError
from harness.engine import load_ref, run_in_process
from harness.settings import StressSettings


def _execute(request: dict) -> dict:
    settings = StressSettings.from_json(request["settings"])
    try:
        obj = load_ref(request["ref"])
    except UsageError as exc:
        return {"usage_error": str(exc)}
    except BaseException as exc:
        import traceback  # only on this error path: at the top it would cost every child ~25 ms

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return {"load_error": {"type": type(exc).__qualname__, "count": 1, "first_traceback": text}}
    try:
        result = run_in_process(
            obj,
            name=request["name"],
            target=request["target"],
            settings=settings,
            on_failure=request["on_failure"],
        )
    except UsageError as exc:
        return {"usage_error": str(exc)}
    return {"result": result.to_json()}


def main(request_path: str) -> None:
    run_request(json.loads(Path(request_path).read_text(encoding="utf-8")))


def run_request(request: dict) -> NoReturn:
    """Run the request's scenario with faulthandler on, write its result atomically, leave with ``os._exit``."""
    # A file of its own, unbuffered, that the parent reads after the child is gone: faulthandler writes every
    # thread's stack straight to its descriptor, so nothing is lost in a pipe or mixed into the scenario's output.
    dump = open(request["dump_path"], "wb", buffering=0)  # noqa: SIM115 - open until the process ends
    faulthandler.enable(file=dump, all_threads=True)
    faulthandler.dump_traceback_later(request["watchdog_s"], exit=True, file=dump)
    payload = _execute(request)
    faulthandler.cancel_dump_traceback_later()
    result_path = Path(request["result_path"])
    temp = result_path.with_suffix(".tmp")
    temp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(temp, result_path)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
