"""Materialize assets one by one through ``step.materialize``, as an Argo pod's ``lakeplan step`` does.

python tests/step_driver.py MODULE RUN_ID KEY...   (from the project root; prints one JSON line per step)
"""

from __future__ import annotations

import json
import logging
import sys

from assets_core.step import materialize
from assets_core.workspace import Workspace

if __name__ == "__main__":
    module, run_id, *keys = sys.argv[1:]
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # shows "waiting for run ..." on stderr
    ws = Workspace.load(module)
    for key in keys:
        result = materialize(ws, key, run_id)
        print(json.dumps({"key": key, "outcome": result.outcome.value, "message": result.message}), flush=True)
