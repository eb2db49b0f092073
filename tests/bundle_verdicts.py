"""Runs a built student bundle's self-check on folders and writes each public test's verdict as JSON.

The tests run it with the bundle's own interpreter (numpy only), never importing
the toolkit:  python -I bundle_verdicts.py BUNDLE DATA OUT.json FOLDER...
"""

import json
import sys
from pathlib import Path

bundle, data, out, folders = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:]
sys.path.insert(0, str(bundle))

from autograder.release.selfcheck import run  # noqa: E402

verdicts = {}
for folder in folders:
    report = run(Path(folder), data)
    verdicts[folder] = {
        "module": sys.modules["autograder"].__file__,
        "tests": {r.spec.full_name: [r.passed, r.output] for r in report.tests},
        "notes": report.notes,
        "grader_errors": report.grader_errors,
    }
out.write_text(json.dumps(verdicts))
