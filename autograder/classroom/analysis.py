"""Item analysis of a graded class, for the instructor: ``summary.md`` and two charts.

Per test: how many students failed it and the most common failure messages,
with numbers, paths and positions normalised out so that equal failures group
together.  Per function: the share of students with full marks.  Charts are
PNGs drawn with matplotlib's Agg backend (no display needed).  Failure counts
use the grader's own verdicts; totals include the staff's overrides.
"""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

from autograder.classroom.clusters import MESSAGE_LIMIT, clusters, independent_functions, normalise
from autograder.classroom.gradebook import RESUME, adjustment_kind, applied_text
from autograder.config import Config
from autograder.submissions.layouts import LATE_NOTE, without_row
from autograder.text import counted, shorten

TOP_MESSAGES = 3
PROBLEM_ROWS = 20  # notes listed in summary.md's "Notes on the submitted files" (the rest counted)
PROBLEM_NAMES = 8  # students named per note
PROBLEM_CHARS = 300  # a note longer than this is cut, with an ellipsis


def item_analysis(records: dict[str, dict], config: Config) -> dict:
    """Per test and per function statistics over the students that were graded."""
    graded = [r for r in records.values() if r["status"] == "graded" and r.get("results")]
    by_name = [{t["name"]: t for t in r["results"]["tests"]} for r in graded]
    per_test = {}
    for spec in config.tests:
        failures = Counter()
        for tests in by_name:
            test = tests.get(spec.full_name)
            if test is not None and test["score"] < test["max_score"]:
                failures[normalise(test["output"])] += 1
        per_test[spec.full_name] = {"spec": spec, "failed": sum(failures.values()),
                                    "messages": failures.most_common(TOP_MESSAGES)}
    per_function = {}
    for function in config.functions:
        names = {t.full_name for t in config.tests if t.function == function}
        full = sum(all(t["score"] >= t["max_score"] for t in r["results"]["tests"] if t["name"] in names)
                   for r in graded)
        per_function[function] = {"pass_rate": full / len(graded) if graded else 0.0, "full_marks": full}
    return {"graded": len(graded), "tests": per_test, "functions": per_function}


def draw_charts(folder: Path, totals: list[float], max_score: float, pass_rates: dict[str, float]) -> list[Path]:
    """Score histogram and per-function pass rates as PNG files; [] when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "score_histogram.png", folder / "function_pass_rates.png"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(totals, bins=min(20, max(1, int(max_score))), range=(0, max_score), color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"total score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.set_title(f"Score distribution ({len(totals)} graded)")
    fig.tight_layout()
    fig.savefig(paths[0], dpi=100)
    plt.close(fig)
    names = list(pass_rates)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2))
    ax.barh(names[::-1], [100 * pass_rates[n] for n in names[::-1]], color="#55a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel("students with full marks (%)")
    ax.set_title("Pass rate per function")
    fig.tight_layout()
    fig.savefig(paths[1], dpi=100)
    plt.close(fig)
    return paths


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _message(message: str) -> str:
    """A normalised failure message as a table cell, in backticks; one that normalise cut ends at a word, with
    an ellipsis."""
    if len(message) >= MESSAGE_LIMIT:
        message = shorten(message, MESSAGE_LIMIT - 1)
    return f"`{_cell(message).replace('`', '')}`"


def mapping_section(mapping: dict | None, records: dict[str, dict] | None = None) -> list[str]:
    """summary.md's lines on how the class folder was read: attempts chosen, files not graded (by the layout, and
    within each graded student's submission: ``records``' "not_graded"), files not placed."""
    if not mapping:
        return []
    lines = ["## How the class folder was read", "",
             f"Layout: {mapping.get('layout', '?')}; {counted(len(mapping.get('students', [])), 'student')} found."
             + (f" When a student made several attempts, the {mapping['attempt']} is graded (`--attempt`)."
                if mapping.get("layout") == "blackboard" else ""), ""]
    lines += [f"- {_cell(n)}" for n in mapping.get("notes", [])]
    if mapping.get("notes"):
        lines.append("")
    decided = [(s, n) for s in mapping.get("students", []) for n in s.get("notes", [])]
    if decided:
        lines += ["| student | name | note |", "|---|---|---|"]
        lines += [f"| {_cell(s['id'])} | {_cell(s.get('name', ''))} | {_cell(n)} |" for s, n in decided]
        lines.append("")
    unplaced = mapping.get("unplaced", [])
    if unplaced:
        lines += [f"### Not placed to any student ({len(unplaced)})", "",
                  "These were not graded and belong to no row of grades.csv; grade-all exits with status 3 while "
                  "this list is not empty. Rename or move them and run grade-all again.", "",
                  "| path | why |", "|---|---|"]
        lines += [f"| {_cell(u['path'])} | {_cell(u['reason'])} |" for u in unplaced]
        lines.append("")
    ignored = mapping.get("ignored", []) + [
        {"path": path, "student": student, "reason": "in the submission, not graded (the student's notes say why)"}
        for student, record in sorted((records or {}).items()) for path in record.get("not_graded") or []]
    if ignored:
        lines += [f"### Not graded ({len(ignored)})", "", "| path | student | why |", "|---|---|---|"]
        lines += [f"| {_cell(i['path'])} | {_cell(i.get('student', ''))} | {_cell(i['reason'])} |" for i in ignored]
        lines.append("")
    return lines


def cluster_section(records: dict[str, dict], docs: dict[str, dict], config: Config | None = None) -> list[str]:
    """summary.md's bug clusters (clusters.py): students who failed the same tests the same way, largest first."""
    found = clusters(records, independent_functions(config) if config else frozenset())
    # Who carries which cluster comment: cluster id -> text -> students (comments.yaml, per student).
    carried: dict[str, dict[str, set[str]]] = {}
    for student, doc in docs.items():
        for e in doc.get("extra_data", {}).get("comments", []):
            if e.get("cluster"):
                carried.setdefault(e["cluster"], {}).setdefault(e["text"], set()).add(student)
    if not found and not carried:
        return []
    lines = ["## Bug clusters", "",
             "Students who failed one function's tests with the same messages (numbers replaced by #, the wrong "
             "values and shapes kept), with the functions the same bug breaks: usually one bug, and a student with "
             "two bugs is in two clusters. "
             "Attach one comment to every member with `python -m autograder comment OUTDIR --cluster ID --text "
             "\"...\"`.", "", "| cluster | students | members | what they got wrong | staff comment |",
             "|---|---|---|---|---|"]
    for c in found:
        functions = list(dict.fromkeys(test.split(":", 1)[0] for test, _ in c.signature))
        wrong = f"functions: {', '.join(functions)}<br>" + "<br>".join(
            f"{_cell(test)}: {_message(msg)}" for test, msg in c.signature[:3])
        if len(c.signature) > 3:
            wrong += f"<br>... and {len(c.signature) - 3} more failed tests"
        if c.echoes:
            wrong += f"<br>also failed alike by students of other bugs: {_cell(', '.join(c.echoes))}"
        members = ", ".join(c.members[:12]) + (" ..." if len(c.members) > 12 else "")
        said = []
        for text, holders in sorted(carried.get(c.id, {}).items()):
            part = f"“{_cell(text)}” on: {_cell(', '.join(m for m in c.members if m in holders)) or 'none'}"
            lacking = [m for m in c.members if m not in holders]
            if lacking:
                part += (f"; not on {_cell(', '.join(lacking))} (joined the cluster after the comment: run the same "
                         "`comment --cluster` again to reach them)")
            left = sorted(holders - set(c.members))
            if left:
                part += f"; no longer in this cluster (they keep it): {_cell(', '.join(left))}"
            said.append(part)
        lines.append(f"| {c.id} | {len(c.members)} | {_cell(members)} | {wrong} | {'<br>'.join(said)} |")
    gone = {cid: texts for cid, texts in carried.items() if cid not in {c.id for c in found}}
    if gone:
        lines += ["", "Comments of clusters that no longer exist (what their students got wrong changed: their code, "
                  "or the config; each keeps the comment until `comment --cluster ID --remove`, and the same `comment "
                  "--cluster NEW_ID --text ...` on the cluster that took its place moves it there):", ""]
        lines += [f"- {cid}: “{_cell(text)}” on {', '.join(sorted(holders))}"
                  for cid, texts in sorted(gone.items()) for text, holders in sorted(texts.items())]
    return lines + [""]


def _override_table(docs: dict[str, dict], key: str, title: str, text: str) -> list[str]:
    """summary.md's section of the overrides results.json lists under ``extra_data[key]`` (stale or moot ones)."""
    rows = [(s, o) for s in sorted(docs) for o in docs[s].get("extra_data", {}).get(key, [])]
    if not rows:
        return []
    return [f"## {title}", "", text, "",
            "| student | test | grader score then | grader score now | override | reason |",
            "|---|---|---|---|---|---|",
            *(f"| {_cell(s)} | {_cell(o['test'])} | {o['then']:g} | {o['now']:g} | {o['score']:g} | "
              f"{_cell(o['reason'])} |" for s, o in rows), ""]


def _some(students: set[str]) -> str:
    """The first ``PROBLEM_NAMES`` students by id, and how many more."""
    names = sorted(students)
    return ", ".join(names[:PROBLEM_NAMES]) + (f" and {len(names) - PROBLEM_NAMES} more"
                                               if len(names) > PROBLEM_NAMES else "")


def content_section(records: dict[str, dict], content: dict | None, changed: dict | None) -> list[str]:
    """summary.md's lines on a config whose content changed since the class was first graded with it."""
    if not changed:
        return []
    earlier = sorted(s for s, r in records.items() if content and r.get("config") != content.get("sha256"))
    text = (f"The config's content changed after this class was graded with it (noticed {changed.get('when', '')}; "
            f"edited: {_cell(', '.join(changed.get('files', [])))}); grading went on with its current content.")
    if earlier:
        text += (f" {len(earlier)} student{'s' * (len(earlier) != 1)} still hold{'s' * (len(earlier) == 1)} grades "
                 f"made with other content ({_cell(_some(set(earlier)))}): `python -m autograder regrade OUTDIR --all` "
                 "grades them again.")
    else:
        text += " Every student is graded with the current content."
    return [text, ""]


def summary(out: Path, records: dict[str, dict], docs: dict[str, dict], config: Config,
            mapping: dict | None = None, incomplete: dict | None = None, content: dict | None = None,
            content_changed: dict | None = None, review_comments: list[dict] = (),
            reference_check: dict | None = None) -> str:
    """The instructor's summary.md (charts are written beside it under charts/).

    ``mapping`` is batch.json's "mapping" (``layouts.Layout.mapping``): what was not graded or placed.
    ``incomplete`` is batch.json's "incomplete" ({when, missing, students}) after an interrupted run:
    said in the first line, with the students not graded yet and how to resume.  ``content`` is batch.json's
    record of the config's content ({sha256, files}) and ``content_changed`` how it last changed under the
    same config file ({when, files}): said under the config's name, with the students still graded with the
    earlier content.  ``review_comments``: ``clusters.comments_to_review``.  ``reference_check``: batch.json's
    record of the reference solution graded with this config (``batch.reference_check``: its failed tests).
    """
    stats = item_analysis(records, config)
    graded = [s for s, r in records.items() if r["status"] == "graded"]
    errors = sorted(s for s, r in records.items() if r["status"] != "graded")
    totals = [docs[s]["score"] for s in graded]
    lines = []
    if incomplete and incomplete.get("similarity"):
        lines += [f"**INCOMPLETE: the run of {incomplete.get('when', '')} was interrupted after every student was "
                  "graded: the similarity report was not written: run the same command again.**", ""]
    elif incomplete:
        missing = incomplete.get("missing", [])
        lines += [f"**INCOMPLETE: the run of {incomplete.get('when', '')} was interrupted; {len(missing)} of "
                  f"{incomplete.get('students', '?')} students are not graded (or not graded again) by it "
                  f"({_cell(', '.join(missing[:20]))}{' ...' if len(missing) > 20 else ''}): their rows in grades.csv "
                  "are `pending`, without scores, and this summary still counts an earlier run's result for those "
                  f"graded before. To grade them, {RESUME}; this summary and grades.csv are not final until "
                  "then.**", ""]
    lines += [f"# {config.title}: class summary", "", f"Graded with the config {config.path}.", ""]
    if reference_check and reference_check.get("failed"):
        failed = reference_check["failed"]
        lines += [f"**The reference solution scores {reference_check['score']:g} of {reference_check['max_score']:g} "
                  f"with this config**: it fails {_cell('; '.join(failed))}. A test, its threshold or its tolerance is "
                  "wrong, and every student is graded with it: fix the config, then `python -m autograder regrade "
                  "OUTDIR --all`.", ""]
    lines += content_section(records, content, content_changed)
    current = {s["id"] for s in mapping.get("students", [])} if isinstance(mapping, dict) else set(records)
    gone = sorted(set(records) - current)
    # Students the interrupted run was to grade and no run has graded yet: no record, but part of the class.
    waiting = [s for s in (incomplete or {}).get("missing", []) if s not in records]
    earlier = [s for s in (incomplete or {}).get("missing", []) if s in records]  # to be graded again
    lines += [f"{counted(len(records), 'submission')}: {len(graded)} graded, {len(errors)} could not be graded"
              + (f"; {len(gone)} of them kept from an earlier run (not in the class folder any more)" if gone
                 else "")
              + (f"; {len(earlier)} of them counted as an earlier run left them, until the interrupted run's "
                 "grading of them is done (pending)" if earlier else "")
              + (f"; {len(waiting)} more not graded yet (pending: the run was interrupted)" if waiting else "")
              + ".", ""]
    rowless = without_row(mapping) if isinstance(mapping, dict) else []
    if rowless:
        lines += [f"{counted(len(rowless), 'student')} of the download handed in nothing to grade and "
                  f"{'has' if len(rowless) == 1 else 'have'} no row in grades.csv: {_cell(', '.join(rowless))} "
                  "(Not graded, below, lists what they handed in). Enter their grades in the LMS yourself.", ""]
    if gone:
        lines += ["## Kept from an earlier run", "", "These students' rows (grades.csv, results/, feedback/) were "
                  "graded from an earlier download and are not in the class folder any more: "
                  + ", ".join(_cell(s) for s in gone) + ". Remove their files from OUTDIR (raw/, results/, "
                  "feedback/) if they left the class.", ""]
    if totals:
        lines += [f"Total score out of {config.max_score:g}: mean {statistics.mean(totals):.1f}, median "
                  f"{statistics.median(totals):g}, min {min(totals):g}, max {max(totals):g}; "
                  f"{sum(t >= config.max_score for t in totals)} with full marks, "
                  f"{sum(t == 0 for t in totals)} with zero.", ""]
    drawn = draw_charts(out / "charts", totals, config.max_score,
                        {f: v["pass_rate"] for f, v in stats["functions"].items()}) if totals else []
    for path in drawn:
        lines += [f"![{path.stem.replace('_', ' ')}](charts/{path.name})", ""]
    if totals and not drawn:
        lines += ["(charts not drawn: matplotlib is not installed)", ""]
    if errors:
        lines += ["## Could not be graded", "", "| student | reason |", "|---|---|"]
        lines += [f"| {_cell(s)} | {_cell(records[s].get('reason', ''))} |" for s in errors]
        lines += ["", "When the submission itself is the cause (a damaged or unsafe zip), the student hands in "
                  "again and `grade-all` on the new download grades it; when the grader's setup is, fix it, then "
                  "`python -m autograder regrade OUTDIR --student ID`.", ""]
    lines += _override_table(docs, "stale_overrides", "Overrides to review",
                             "Set against a grader score that has changed since (the student resubmitted, or the "
                             "config changed). Not applied: the grader's current score counts until you set the "
                             "override again (`override ... --score X --reason ...`) or remove it (`--remove`).")
    lines += _override_table(docs, "moot_overrides", "Overrides the grader now agrees with",
                             "The grader's score changed since these were set, to the override's own score: they "
                             "change nothing now (nor later, unless the grader's score changes again, when they are "
                             "listed above to review). Remove them with `override ... --remove`, or leave them.")
    # The LMS's late flag with nothing decided about it yet: neither a penalty nor an extension.
    undecided = sorted(st for st, r in records.items() if LATE_NOTE in r.get("notes", [])
                       and not {"penalty", "extension"} & set(docs.get(st, {}).get("extra_data", {})))
    if undecided:
        lines += ["## Late, with nothing decided yet", "",
                  f"The class download marks {counted(len(undecided), 'submission')} late whose student has neither a "
                  f"penalty nor an extension: {_cell(', '.join(undecided))}. Their grade is the grader's until you "
                  "set one (`override OUTDIR --student ID --penalty -10% --reason ...`, or `--extension ...`).", ""]
    if review_comments:
        lines += ["## Comments to review", "",
                  "Written to one student about an earlier submission: they handed in new work since, and still see "
                  "the comment. Keep it, or remove it with `python -m autograder comment OUTDIR --student ID "
                  "--remove` (which removes that student's own comments).", "",
                  "| student | comment | written |", "|---|---|---|"]
        lines += [f"| {_cell(c['student'])} | {_cell(c['text'])} | {_cell(c['when'])} |" for c in review_comments]
        lines.append("")
    lines += mapping_section(mapping, records)
    # The mapping's own notes (the attempt graded) are listed above, once per student.
    decided = {n for s in (mapping or {}).get("students", []) for n in s.get("notes", [])}
    holders: dict[str, set[str]] = {}
    for s in graded:
        for n in records[s].get("notes", []):
            if n not in decided:
                holders.setdefault(n.splitlines()[0], set()).add(s)
    if holders:
        # The most common first, then by text: the same class gives the same table on every run.
        rows = sorted(holders.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        lines += ["## Notes on the submitted files", "", "| students | who | note |", "|---|---|---|"]
        for note, who in rows[:PROBLEM_ROWS]:
            text = note if len(note) <= PROBLEM_CHARS else note[:PROBLEM_CHARS - 1] + "…"
            lines.append(f"| {len(who)} | {_cell(_some(who))} | {_cell(text)} |")
        if len(rows) > PROBLEM_ROWS:
            rest = set().union(*(who for _, who in rows[PROBLEM_ROWS:]))
            lines.append(f"| {len(rest)} | {_cell(_some(rest))} | {len(rows) - PROBLEM_ROWS} more notes: each "
                         "student's feedback and grades.csv's note column hold them |")
        lines.append("")
    lines += cluster_section(records, docs, config)
    lines += ["## Per function", "", "| function | points | full marks | pass rate |", "|---|---|---|---|"]
    points = config.function_points
    for function, v in stats["functions"].items():
        lines.append(f"| {function} | {points[function]:g} | {v['full_marks']} | {100 * v['pass_rate']:.0f}% |")
    lines += ["", "## Per test", "", "Failures are counted on the grader's own verdicts (before overrides); "
              "messages are grouped with numbers replaced by #.", "",
              "| test | visibility | points | failed | most common failure messages |", "|---|---|---|---|---|"]
    for name, v in stats["tests"].items():
        spec = v["spec"]
        messages = "<br>".join(f"{count}× {_message(msg)}" for msg, count in v["messages"])
        share = f"{v['failed']} ({100 * v['failed'] / stats['graded']:.0f}%)" if stats["graded"] else "0"
        lines.append(f"| {_cell(name)} | {spec.visibility} | {spec.points:g} | {share} | {messages} |")
    penalties = [(s, docs[s]["extra_data"]["penalty"]) for s in sorted(docs)
                 if docs[s].get("extra_data", {}).get("penalty")]
    if penalties:
        lines += ["", "## Penalties and bonuses", "", "| student | kind | set | applied | reason |",
                  "|---|---|---|---|---|"]
        lines += [f"| {_cell(s)} | {adjustment_kind(p)} | {_cell(p['set'])} | "
                  f"{_cell(applied_text(p))} | "
                  f"{_cell(p['reason'])} |" for s, p in penalties]
    extensions = [(s, docs[s]["extra_data"]["extension"]) for s in sorted(docs)
                  if docs[s].get("extra_data", {}).get("extension")]
    if extensions:
        lines += ["", "## Extensions", "", "Granted by the course staff; they change no score. A late flag from "
                  "the LMS (Canvas's LATE) on these students is answered in their notes.", "",
                  "| student | extension | LMS late flag |", "|---|---|---|"]
        lines += [f"| {_cell(s)} | {_cell(e['reason'])} | {'answered' if e['late_flag_answered'] else 'none'} |"
                  for s, e in extensions]
    changed = [(s, o) for s in sorted(docs) for o in docs[s].get("extra_data", {}).get("overrides", [])]
    if changed:
        lines += ["", "## Score overrides", "", "| student | test | from | to | reason |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(s)} | {_cell(o['test'])} | {o['from']:g} | {o['to']:g} | {_cell(o['reason'])} |"
                  for s, o in changed]
    stale = [(s, n) for s in sorted(docs) for n in docs[s].get("extra_data", {}).get("unmatched_overrides", [])]
    if stale:
        lines += ["", "Overrides that match no test any more (the config changed?): "
                  + "; ".join(f"{s}: {n}" for s, n in stale)]
    return "\n".join(lines).rstrip() + "\n"
