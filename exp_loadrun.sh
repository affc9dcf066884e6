#!/bin/bash
# usage: exp_loadrun.sh LOAD N ref
.venv/bin/python - "$@" <<'PY'
import sys, subprocess, time
from tests.corpus.busy import busy_processes
load, n, ref = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with busy_processes(load):
    time.sleep(0.5)
    for i in range(n):
        subprocess.run([".venv/bin/python", "exp_trialprobe.py", ref, str(100 + i)])
PY
