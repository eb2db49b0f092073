"""nbgrader settings of the RNN homework's course folder (see the README's nbgrader section).

`make nbgrader` copies this file into build/nbgrader/ with source/hw_rnn/
(the notebook, the `autograder` package and the public checks) and grading/
(the checks with hidden tests, which must never be released).
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 -- nbgrader defines get_config when it reads this file

c.CourseDirectory.course_id = "hw_rnn"
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
# Makes `nbgrader export --exporter=hw_rnn_export.FunctionScoresExport` importable (scores per function).
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Hidden tests read their reference values from grading/, outside source/ so that
# generate_assignment never releases them; the grading kernel inherits this variable.
os.environ.setdefault("HW_RNN_CHECKS", str(Path(__file__).resolve().parent / "grading" / "hw_rnn_checks_full"))

# autograde copies every non-notebook file of source/hw_rnn over the student's: here that
# is the checks package and folder, so a student cannot change the tests that grade them.
# Student code lives in notebook cells only (see the notebook's first section).
c.Execute.timeout = 120  # seconds per cell: the longest test cell takes well under a second
