"""The feedback a student reads (``feedback/<student>.md``), under Gradescope's visibility rules.

Public tests are shown in full.  A hidden test is shown only when its
visibility allows it (``after_published`` once grades are published,
``after_due_date`` once the due date has passed, ``hidden`` never), and then
only as its name and score: never its message, which may describe its inputs.
While any hidden test is not shown, neither is the total (it would give away
the hidden scores): the student sees the score on the tests shown.
"""

from __future__ import annotations

import re

from autograder.classroom.gradebook import PENDING_LINE, adjustment_line, capped
from autograder.config import Config
from autograder.grading.results import withheld_text


def shown(visibility: str, published: bool, after_due_date: bool) -> bool:
    """Whether a test with this Gradescope visibility is shown to the student now."""
    return (visibility == "visible"
            or (visibility == "after_due_date" and (after_due_date or published))
            or (visibility == "after_published" and published))


def _fence(text: str) -> str:
    """A code block that student-controlled text cannot close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"


def render(record: dict, doc: dict, config: Config, published: bool = False, after_due_date: bool = False) -> str:
    """Markdown feedback for one student from their record and their results.json (overrides applied)."""
    lines = [f"# {config.title}", "", f"Feedback for **{record['student']}** ({config.assignment}).", ""]
    if doc.get("extra_data", {}).get("pending"):
        lines += [f"**{PENDING_LINE}**", ""]
    for comment in doc.get("extra_data", {}).get("comments", []):
        lines += ["## Comment from the course staff", "", _fence(comment["text"]), ""]
    if record["status"] != "graded":
        reason = record.get("reason", "") if record.get("error_kind") == "submission" else \
            "the grader itself failed on it (not something in your code)"
        lines += ["Your submission could not be graded automatically:", "", _fence(reason), "",
                  "The course staff have been told and will look at it."]
        return "\n".join(lines) + "\n"
    tests = doc["tests"]
    visible = [t for t in tests if shown(t["visibility"], published, after_due_date)]
    withheld = [t for t in tests if t not in visible]
    got = sum(t["score"] for t in visible)
    out_of = sum(t["max_score"] for t in visible)
    penalty = doc.get("extra_data", {}).get("penalty")
    if withheld:
        lines.append(f"**Score on the tests shown: {got:g} / {out_of:g}.** " + withheld_text(withheld))
    else:
        lines.append(f"**Score: {doc['score']:g} / {out_of:g}**" + (
            f" (capped at the maximum {penalty['max']:g})" if capped(penalty) else ""))
    if penalty:
        lines += ["", adjustment_line(penalty, bool(withheld))]
    extension = doc.get("extra_data", {}).get("extension")
    if extension:
        lines += ["", f"Extension granted by the course staff: {extension['reason']}"]
    lines.append("")
    if record.get("files_found") is not None:
        lines.append(f"Graded files: {', '.join(record.get('files_found') or []) or 'none'}")
    for note in doc.get("extra_data", {}).get("notes", record.get("notes", [])):
        lines += ["", _fence(note)]
    # A staff override's reason is the staff's text, never the test's inputs: shown with a hidden test too.
    reasons = {o["test"]: o for o in doc.get("extra_data", {}).get("overrides", [])}
    by_function: dict[str, list[dict]] = {}
    for t in visible:
        by_function.setdefault(t["name"].split(":", 1)[0], []).append(t)
    for function in [f for f in config.functions if f in by_function]:
        group = by_function[function]
        lines += ["", f"## {function}: {sum(t['score'] for t in group):g} / {sum(t['max_score'] for t in group):g}", ""]
        for t in group:
            name = t["name"].split(": ", 1)[-1]
            mark = "PASS" if t["score"] >= t["max_score"] else "FAIL"
            if t["visibility"] != "visible":
                lines.append(f"- {mark} (hidden test) {name}: {t['score']:g} / {t['max_score']:g}")
                if t["name"] in reasons:
                    o = reasons[t["name"]]
                    lines += ["", _fence(f"Score changed by the course staff from {o['from']:g} to {o['to']:g}: "
                                         f"{o['reason']}"), ""]
                continue
            lines.append(f"- {mark} {name}: {t['score']:g} / {t['max_score']:g}")
            if t["output"] and t["output"] != "passed":
                lines += ["", _fence(t["output"]), ""]
    if record.get("student_output"):
        lines += ["", "## Output printed by your code (public tests only, trimmed)", "",
                  _fence(record["student_output"])]
    return "\n".join(lines).rstrip() + "\n"
