"""nbgrader settings of an assignment's course folder (see the README's nbgrader section).

`make nbgrader` copies this file into build/nbgrader/ with source/<assignment>/
(the notebook, the `autograder` package and the public checks) and grading/
(the checks with hidden tests, which must never be released).
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 -- nbgrader defines get_config when it reads this file

HERE = Path(__file__).resolve().parent
# The course is named after its one assignment, source/<assignment>.
c.CourseDirectory.course_id = next((p.name for p in sorted((HERE / "source").glob("*")) if p.is_dir()), HERE.name)
c.CourseDirectory.root = str(HERE)
# Makes `nbgrader export --exporter=function_scores_export.FunctionScoresExport` importable (scores per function).
sys.path.insert(0, str(HERE))

# Hidden tests read their reference values from grading/, outside source/ so that
# generate_assignment never releases them; the grading kernel inherits this variable.
_full = sorted((HERE / "grading").glob("*_checks_full"))
if _full:
    os.environ.setdefault("AUTOGRADER_CHECKS", str(_full[0]))

# autograde copies every non-notebook file of source/<assignment> over the student's: here that
# is the checks package and folder, so a student cannot change the tests that grade them.
# Student code lives in notebook cells only (see the notebook's first section).
c.Execute.timeout = 120  # seconds per cell: the longest test cell takes well under a second
