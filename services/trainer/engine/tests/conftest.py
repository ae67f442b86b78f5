"""Engine test setup: the engine directory on sys.path, and a per-test report for the repository's test runner.

With ENGINE_TEST_REPORT set to a file path, each test's outcome (passed, failed or skipped, with the failure
text) is written there as one JSON line, so `npm test` can show every engine test as its own result.
"""

import json
import os
import sys
from pathlib import Path

ENGINE_DIR = str(Path(__file__).resolve().parents[1])
if ENGINE_DIR not in sys.path:
    sys.path.insert(0, ENGINE_DIR)

_REPORT = os.environ.get("ENGINE_TEST_REPORT")


def pytest_runtest_logreport(report):
    if not _REPORT:
        return
    # A test's result is its call phase, or the setup phase when setup skipped or failed it; teardown only counts when it fails.
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed") or (
        report.when == "teardown" and report.outcome == "failed"
    ):
        text = ""
        if report.outcome == "failed":
            text = report.longreprtext
        elif report.outcome == "skipped" and isinstance(report.longrepr, tuple):
            text = report.longrepr[2]
        with open(_REPORT, "a", encoding="utf-8") as out:
            out.write(json.dumps({"nodeid": report.nodeid, "outcome": report.outcome, "text": text}) + "\n")
