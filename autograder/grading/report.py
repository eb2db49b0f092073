"""The terminal table a student or instructor reads: one block per function."""

from __future__ import annotations

import textwrap

from autograder.grading.grader import QUIZ_NOTE, GradeReport
from autograder.text import clean_text

WIDTH = 88


def table(report: GradeReport) -> str:
    """Per function: points earned, then each test with PASS/FAIL and its message.

    Student text is cleaned (clean_text): no control character reaches the terminal.
    """
    lines = []
    for note in report.notes:
        lines.append(f"! {note}")
    functions: dict[str, list] = {}
    for r in report.tests:
        functions.setdefault(r.spec.function, []).append(r)
    name_width = max((len(f) for f in functions), default=10)
    lines.append(f"{'function':<{name_width}}  {'points':>13}  tests")
    lines.append("-" * WIDTH)
    for function, results in functions.items():
        got = sum(r.score for r in results)
        total = sum(r.spec.points for r in results)
        passed = sum(r.passed for r in results)
        lines.append(f"{function:<{name_width}}  {got:>6g} / {total:<4g}  {passed}/{len(results)} passed")
        for r in results:
            mark = "PASS" if r.passed else "FAIL"
            lines.append(f"    [{mark}] {r.spec.name} ({r.spec.points:g} pt)")
            if not r.passed:
                for para in r.output.splitlines():
                    lines += textwrap.wrap(para, WIDTH, initial_indent=" " * 11, subsequent_indent=" " * 11)
    lines.append("-" * WIDTH)
    lines.append(f"{'total':<{name_width}}  {report.score:>6g} / {report.max_score:<4g}  ({report.seconds:.2f} s)")
    return clean_text("\n".join(lines))


def public_only_line(report: GradeReport) -> str:
    """The self-check's last line: what its public tests leave out (points of the hidden tests, the functions
    only hidden tests grade, which its table does not show), and a reminder of quiz answers that cannot be
    marked (its note is at the top, far from the total)."""
    points, functions = report.withheld
    line = "These are the public tests only"
    if points:
        line += (f": {report.max_score:g} of the {report.max_score + points:g} points. The hidden tests ({points:g} "
                 "points) use other inputs and shapes")
        if functions:
            line += (f"; they also grade {', '.join(functions)}, "
                     f"{'a function' if len(functions) == 1 else 'functions'} the table above does not show")
    line += "."
    if any(note.startswith(QUIZ_NOTE) for note in report.notes):
        line += " Your quiz answers cannot all be marked as they are: see the Quiz note above."
    return line
