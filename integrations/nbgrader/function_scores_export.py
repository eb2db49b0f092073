"""An nbgrader export plugin: the score of every student on every function of the assignment.

    nbgrader export --exporter=function_scores_export.FunctionScoresExport [--to function_scores.csv]

writes one row per (assignment, student, function). Each autograded test cell
has the grade id `<function>-t<k>` (autograder/integrations/notebooks.py makes them, one per
test of assignment.yaml), so a function's score is the sum of its cells' scores:
the number the native grader gives the same function.
"""

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

COLUMNS = ("assignment", "student_id", "function", "score", "max_score")


def function_of(grade_id: str) -> str:
    """The graded function a test cell belongs to."""
    return grade_id.rsplit("-t", 1)[0]


class FunctionScoresExport(ExportPlugin):
    """Per-function scores, summed over each function's test cells."""

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "function_scores.csv"
        students, assignments = {str(s) for s in self.student}, {str(a) for a in self.assignment}
        rows = []
        for assignment in gradebook.assignments:
            if assignments and assignment.name not in assignments:
                continue
            for student in gradebook.students:
                if students and student.id not in students:
                    continue
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    continue  # nothing submitted: the total export already shows 0
                scores: dict[str, list[float]] = {}
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        got = scores.setdefault(function_of(grade.name), [0.0, 0.0])
                        got[0] += grade.score or 0.0
                        got[1] += grade.max_score
                for function, (score, max_score) in scores.items():
                    rows.append((assignment.name, student.id, function, score, max_score))
        self.log.info("Exporting per-function scores to %s", dest)
        with open(dest, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
