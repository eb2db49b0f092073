"""Command line for grading a class: ``grade-all``, ``regrade``, ``override`` and ``feedback``.

grade-all  grade every submission of a class folder into OUTDIR (exit 0: all graded; 1: some could not be
           graded, see summary.md; 2: cannot run; 3: some files or folders belong to no student, listed in
           summary.md and batch.json; 75: OUTDIR busy and --no-wait; 130: interrupted, rerun to resume).
           --dry-run prints which files each student gets and what is not graded, and grades nothing
regrade    grade some students of OUTDIR again (after fixing their submission or the config); --all for
           everyone; --dry-run prints every score that would change and writes nothing
override   change one test's score for one student, with a reason; survives regrades (--penalty: the total)
feedback   rewrite every student's feedback, e.g. once grades are published (--published)
comment    attach one staff comment to every student of a bug cluster (summary.md) or to one student
similarity rank pairs of students by code similarity (templates excluded) and identical wrong values

Each of them holds OUTDIR's lock (OUTDIR/.lock) while it runs: a second one waits for the first, naming
it, or with --no-wait exits with status 75.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# The batch modules are imported inside the commands: `grade` and `check` must not pay for them.
EXIT_USAGE = 2


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_USAGE


def _locked(out: Path, args: argparse.Namespace, run: Callable[[], int], lock: bool = True) -> int:
    """``run()`` while holding OUTDIR's writer lock (see gradebook.outdir_lock); its exit status.

    A folder that is not a grade-all OUTDIR gets no lock file: the command itself refuses it.  With
    lock=False (grade-all, which takes the lock itself once its inputs are checked) only the errors.
    """
    from autograder.classroom.batch import MANIFEST, BatchError
    from autograder.classroom.gradebook import EXIT_BUSY, GradebookError, OutdirBusy

    try:
        with _lock(out, args) if lock and (out / MANIFEST).is_file() else contextlib.nullcontext():
            return run()
    except OutdirBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (BatchError, GradebookError) as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        return _interrupted()


@contextlib.contextmanager
def _lock(out: Path, args: argparse.Namespace):
    """OUTDIR's writer lock (OUTDIR is created if need be), naming this command for whoever waits."""
    from autograder.classroom.batch import BatchError
    from autograder.classroom.gradebook import outdir_lock

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"cannot create {out}: {exc}") from None
    with outdir_lock(out, f"python -m autograder {shlex.join(sys.argv[1:])}", wait=not args.no_wait):
        yield


def _interrupted() -> int:
    print("interrupted: run the same command again to continue (nothing graded so far is lost)", file=sys.stderr)
    return 130


def _config_path(args: argparse.Namespace) -> Path:
    from autograder.config import config_path

    return config_path(args.assignment, args.config)


def _number(kind: type, what: str, low: float, high: float = float("inf"), low_included: bool = False):
    """An argparse type: a ``kind`` number within (low, high] (or [low, high]), else a message saying ``what``."""
    def parse(value: str):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}, not {value!r}") from None
        if not (low <= number if low_included else low < number) or number > high:
            raise argparse.ArgumentTypeError(f"{what}, not {value}")
        return number

    return parse


_jobs = _number(int, "a whole number of worker processes, at least 1", 1, low_included=True)
_positive = _number(float, "a number of seconds, more than 0", 0)
_share = _number(float, "a share of the code, above 0 and at most 1", 0, 1)


def cmd_grade_all(args: argparse.Namespace) -> int:
    from autograder.classroom.batch import Options, grade_all

    options = Options(jobs=args.jobs or 0, regrade=args.regrade, published=True if args.published else None,
                      after_due_date=True if args.after_due_date else None, assignment=args.nbgrader_assignment,
                      timeout=args.timeout, progress=False if args.no_progress else None, quiet=args.quiet,
                      lock=lambda out: _lock(out, args), layout=args.layout, attempt=args.attempt,
                      dry_run=args.dry_run, similarity=not args.no_similarity, force=args.force)
    out = Path(args.out)
    return _locked(out, args, lambda: _run_batch(
        lambda: grade_all(Path(args.submissions), out, _config_path(args) if args.config or args.assignment
                          else None, options), out,
        report=not args.dry_run), lock=False)


def _run_batch(run, outdir: Path, report: bool = True) -> int:
    """Run a batch; report it (when ``report``), or why it could not run, or that it was interrupted."""
    from autograder.classroom.batch import BatchError, describe

    try:
        outcome = run()
    except BatchError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        return _interrupted()
    if report:
        print(describe(outcome, outdir), file=sys.stderr)
    return outcome.exit_code


def cmd_regrade(args: argparse.Namespace) -> int:
    from autograder.classroom.batch import Options, regrade

    if not args.dry_run and bool(args.student) == bool(args.all):
        return _fail(ValueError("give --student ID (repeatable) or --all; or --dry-run to preview a regrade of "
                                "everyone"))
    options = Options(jobs=args.jobs or 0, progress=False if args.no_progress else None, force=args.force)
    from autograder.config import config_path

    # Without --config or --assignment, the config OUTDIR was graded with.
    config = config_path(args.assignment, args.config) if (args.config or args.assignment) else None
    out = Path(args.outdir)
    if args.dry_run:
        return _locked(out, args, lambda: _preview(out, options, config))
    students = None if args.all else args.student
    return _locked(out, args, lambda: _run_batch(lambda: regrade(out, students, options, config), out))


def _preview(out: Path, options, config: Path | None) -> int:
    from autograder.classroom.batch import recorded_config
    from autograder.classroom.preview import describe, preview
    from autograder.config import check_required_files, load_config

    config = config or recorded_config(out)
    check_required_files(load_config(config))  # one line now, not workers failing in the scratch folder
    # Nothing is written to OUTDIR: a grades.csv edited by hand is only said, not refused.
    print(describe(preview(out, options, config), out))
    return 0


def cmd_override(args: argparse.Namespace) -> int:
    if args.extension is not None or args.remove_extension:
        if (args.test or args.score is not None or args.remove or args.penalty is not None or args.remove_penalty
                or (args.extension is not None) == args.remove_extension):
            return _fail(ValueError("give either --extension TEXT (what was granted, e.g. \"3 days, approved by "
                                    "prof\"), or --remove-extension (no --test, --score, --penalty or --remove)"))
        if args.extension is not None and not args.extension.strip():
            return _fail(ValueError("--extension needs a text: what was granted and by whom"))
    elif args.penalty is not None or args.remove_penalty:
        if args.test or args.score is not None or args.remove or (args.penalty is not None) == args.remove_penalty:
            return _fail(ValueError("give either --penalty POINTS|PERCENT% --reason TEXT, or --remove-penalty "
                                    "(no --test, --score or --remove)"))
    elif not args.test:
        return _fail(ValueError("give --test NAME (or --penalty for a change of the student's total)"))
    elif args.remove == (args.score is not None):
        return _fail(ValueError("give either --score X --reason TEXT, or --remove"))
    return _locked(Path(args.outdir), args, lambda: _override(args))


def _override(args: argparse.Namespace) -> int:
    from autograder.classroom.batch import group_partners, override
    from autograder.text import clean_text

    # Text typed under a non-UTF-8 locale arrives with surrogates; records hold it cleaned.
    args.student, args.test = clean_text(args.student), clean_text(args.test or "")
    name, max_score, applied = override(
        Path(args.outdir), args.student, args.test, args.score, clean_text(args.reason or ""), force=args.force,
        penalty=args.penalty, remove_penalty=args.remove_penalty,
        extension=clean_text(args.extension) if args.extension is not None else None,
        remove_extension=args.remove_extension)
    if args.extension is not None or args.remove_extension:
        print(f"{args.student}: extension {'removed' if args.remove_extension else repr(args.extension)} (no score "
              "changes); feedback, grades.csv and summary.md updated")
    elif args.penalty is not None or args.remove_penalty:
        print(f"{args.student}: {'penalty or bonus removed' if args.remove_penalty else applied}; results, feedback, "
              "grades.csv and summary.md updated")
    elif args.remove:
        print(f"{args.student}: removed the override on {name!r}")
    else:
        print(f"{args.student}: {name!r} now scores {args.score:g} / {max_score:g}; results, feedback, grades.csv "
              "and summary.md updated")
    partners = group_partners(Path(args.outdir), args.student)
    if partners:
        print(f"note: {args.student} handed in one submission with {', '.join(partners)} (a group); this change is "
              f"{args.student}'s alone: run the same command with --student {partners[0]}"
              + (" (and each other member)" if len(partners) > 1 else "") + " to change theirs too")
    return 0


def cmd_comment(args: argparse.Namespace) -> int:
    if (args.cluster is None) == (args.student is None):
        return _fail(ValueError("give either --cluster ID or --student ID"))
    if args.remove == (args.text is not None):
        return _fail(ValueError("give either --text TEXT, or --remove"))
    return _locked(Path(args.outdir), args, lambda: _comment(args))


def _comment(args: argparse.Namespace) -> int:
    from autograder.classroom.batch import comment
    from autograder.grading.results import clean_text

    members, already = comment(Path(args.outdir), clean_text(args.text or ""), cluster=args.cluster,
                               student=clean_text(args.student) if args.student else None, remove=args.remove,
                               force=args.force)
    verb = "removed from" if args.remove else "attached to"
    print(f"comment {verb} {len(members)} student{'s' * (len(members) != 1)}"
          + (f": {', '.join(members)}" if members else "")
          + (f" ({len(already)} had it already: {', '.join(already)})" if already else "")
          + "; feedback, results, grades.csv and summary.md updated")
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    return _locked(Path(args.outdir), args, lambda: _similarity(args))


def _similarity(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from autograder.classroom import similarity
    from autograder.classroom.batch import default_jobs, graded_config, read_manifest, render_all
    from autograder.classroom.gradebook import GradebookError

    out = Path(args.outdir)
    manifest = read_manifest(out)
    config = graded_config(out, manifest)
    thresholds = similarity.Thresholds()
    if args.threshold is not None:
        thresholds = replace(thresholds, code=args.threshold)
    if args.min_overlap is not None:
        thresholds = replace(thresholds, min_overlap=args.min_overlap)
    pairs, path = similarity.report(out, config, thresholds, jobs=default_jobs())
    print(similarity.describe(pairs, path))
    if (manifest.get("incomplete") or {}).get("similarity"):  # an interrupted run's only missing piece: done now
        manifest.pop("incomplete")
        try:
            render_all(out, config, manifest, only=set())
        except GradebookError as exc:
            print(f"note: summary.md still says the similarity report is missing: {exc}", file=sys.stderr)
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    return _locked(Path(args.outdir), args, lambda: _feedback(args))


def _feedback(args: argparse.Namespace) -> int:
    from autograder.classroom.batch import graded_config, rerender

    out = Path(args.outdir)
    manifest = rerender(out, args.published, args.after_due_date, force=args.force)
    print(f"feedback rewritten in {out / 'feedback'}: {_what_students_see(manifest, graded_config(out, manifest))}")
    return 0


def _what_students_see(manifest: dict, config) -> str:
    """How many tests the feedback now shows (feedback.shown) and whether totals show, in words."""
    from autograder.classroom.feedback import shown

    state = ("grades published" if manifest["published"] else
             f"grades not published, {'after' if manifest['after_due_date'] else 'before'} the due date")
    visible = [t for t in config.tests if shown(config.hidden_visibility if t.hidden else "visible",
                                                 manifest["published"], manifest["after_due_date"])]
    if len(visible) == len(config.tests):
        return f"{state}; the feedback shows all {len(visible)} tests and the total"
    from autograder.grading.results import SHOWN_WHEN

    withheld = len(config.tests) - len(visible)
    return (f"{state}; the feedback shows {len(visible)} of the {len(config.tests)} tests and no total: the other "
            f"{withheld} are {SHOWN_WHEN[config.hidden_visibility]} ({config.hidden_visibility})")


def register(sub: argparse._SubParsersAction, config_options: Callable[[str], argparse.ArgumentParser]) -> None:
    """Add the class-grading commands to ``python -m autograder`` (``config_options(default)``: the --assignment
    and --config options, saying which config is used without them)."""
    # A rerun keeps the config OUTDIR was graded with (batch.recorded_config).
    kept = "the config file OUTDIR was last graded with, as it is now"
    chosen = config_options(f"for a new OUTDIR, $AUTOGRADER_ASSIGNMENT, else the name in assignments/DEFAULT; on a "
                            f"rerun, {kept}")
    p = sub.add_parser("grade-all", parents=[chosen], help="grade a whole class in parallel",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from autograder.submissions import ATTEMPTS, LAYOUTS

    p.add_argument("submissions", help="a folder of per-student folders or zips, a Gradescope export, "
                                       "nbgrader's submitted/ (or its course folder), or the unzipped download "
                                       "of Canvas, Moodle or Blackboard")
    p.add_argument("--out", required=True, help="output folder (rerun with the same one to resume)")
    p.add_argument("--jobs", type=_jobs, help="worker processes (default: one per core)")
    p.add_argument("--regrade", action="store_true", help="grade everyone again, even students already graded")
    p.add_argument("--published", action="store_true",
                   help="grades are published: feedback shows hidden tests' names and scores (never their inputs)")
    p.add_argument("--after-due-date", action="store_true", help="show tests whose visibility is after_due_date")
    p.add_argument("--nbgrader-assignment", help="nbgrader: the assignment folder to grade, when its name is not the "
                                                 "config's assignment")
    p.add_argument("--layout", choices=LAYOUTS, help="how the class folder is laid out (default: recognised)")
    p.add_argument("--attempt", choices=ATTEMPTS,
                   help="which of a student's several attempts is graded (Blackboard; default: OUTDIR's choice when "
                        "it was graded before, else latest)")
    p.add_argument("--dry-run", action="store_true",
                   help="print which files each student gets and what is not graded; grade and write nothing")
    p.add_argument("--timeout", type=_positive, default=900.0, help="seconds per submission before its worker "
                                                                    "is stopped (default 900)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no notes")
    p.add_argument("--no-similarity", action="store_true",
                   help="do not write similarity/report.html (pairs of students with alike code or wrong values)")
    _no_wait(p)
    p.set_defaults(run=cmd_grade_all)

    p = sub.add_parser("comment", help="attach a staff comment to every student of a bug cluster (or to one "
                                       "student); survives regrades")
    p.add_argument("outdir")
    p.add_argument("--cluster", help="a cluster id from summary.md's bug clusters")
    p.add_argument("--student", help="one student id")
    p.add_argument("--text", help="the comment (the students see it)")
    p.add_argument("--remove", action="store_true", help="remove the cluster's comment (or the student's comments)")
    _no_wait(p)
    p.set_defaults(run=cmd_comment)

    p = sub.add_parser("similarity", help="rank pairs of students by code similarity (templates excluded) and "
                                          "identical wrong values: OUTDIR/similarity/report.html")
    p.add_argument("outdir")
    p.add_argument("--threshold", type=_share, help="flag a pair when this share of either student's own code "
                                                    "matches (default 0.5; above 0 and at most 1)")
    p.add_argument("--min-overlap", type=int, help="... and at least this many matched characters (default 150)")
    _no_wait(p)
    p.set_defaults(run=cmd_similarity)

    p = sub.add_parser("regrade", parents=[config_options(f"{kept}; a config given becomes OUTDIR's for later runs")],
                       help="grade some students of a grade-all folder again")
    p.add_argument("outdir", help="a grade-all output folder")
    p.add_argument("--student", action="append", help="student id (repeat for several)")
    p.add_argument("--all", action="store_true", help="every student (after a change of the config or the tests)")
    p.add_argument("--dry-run", action="store_true",
                   help="grade everyone in a scratch folder and print every score that would change, with the "
                        "old and new score and why; write nothing to OUTDIR")
    p.add_argument("--jobs", type=_jobs, help="worker processes (default: one per core)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _no_wait(p)
    p.set_defaults(run=cmd_regrade)

    p = sub.add_parser("override", help="change one test's score for one student")
    p.add_argument("outdir")
    p.add_argument("--student", required=True)
    p.add_argument("--test", help="the test's name as in results.json (any case), or a unique part of it")
    p.add_argument("--score", type=float)
    p.add_argument("--reason", help="why (the student sees it with the new score)")
    p.add_argument("--remove", action="store_true", help="remove this student's override on this test")
    p.add_argument("--penalty", help="change the student's total instead of a test: points (-15; a bonus: +5) or a "
                                     "percentage of their score (-10%%), with a --reason (e.g. a late penalty)")
    p.add_argument("--remove-penalty", action="store_true", help="remove this student's penalty or bonus")
    p.add_argument("--extension", help="record a deadline extension (e.g. \"3 days, approved by prof\"): changes "
                                       "no score; shown in feedback, grades.csv and summary.md, and answers an LMS "
                                       "late flag (Canvas's LATE) in the student's note")
    p.add_argument("--remove-extension", action="store_true", help="remove this student's extension")
    _no_wait(p)
    p.set_defaults(run=cmd_override)

    p = sub.add_parser("feedback", help="rewrite the students' feedback (e.g. once grades are published)")
    p.add_argument("outdir")
    group = p.add_mutually_exclusive_group()
    # Each is recorded in batch.json: later commands and reruns keep it until told otherwise.
    group.add_argument("--published", dest="published", action="store_true", default=None,
                       help="grades are published: show hidden tests' names and scores (kept for later runs)")
    group.add_argument("--unpublished", dest="published", action="store_false",
                       help="grades are not published (any more): hide them again (kept for later runs)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--after-due-date", dest="after_due_date", action="store_true", default=None,
                       help="show tests whose visibility is after_due_date (kept for later runs)")
    group.add_argument("--before-due-date", dest="after_due_date", action="store_false",
                       help="hide them again (kept for later runs)")
    _no_wait(p)
    p.set_defaults(run=cmd_feedback)


# A negative number or percentage is a value (--penalty -15, --penalty -10%), never an option: argparse is told
# so too (StrictOptionsParser).
_NUMBER = re.compile(r"-\d+%?|-\d*\.\d+%?")


def unknown_options(parser: argparse.ArgumentParser, args: list[str]) -> list[str]:
    """A message per option in ``args`` that ``parser`` does not know, naming the closest one it knows (difflib).

    Walks ``args`` as argparse does: a known option that takes a value skips that value (``--reason -x``),
    an unambiguous prefix of a known option is that option, and ``--`` ends the options.  A prefix of
    several options is left to argparse, which names them.
    """
    actions = {s: a for a in parser._actions for s in a.option_strings}
    found, i = [], 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if len(arg) < 2 or not arg.startswith("-") or _NUMBER.fullmatch(arg):
            continue
        name = arg.split("=", 1)[0]
        hits = [name] if name in actions else [s for s in actions if name.startswith("--") and s.startswith(name)]
        if hits:
            if len(hits) == 1 and actions[hits[0]].nargs != 0 and "=" not in arg:
                i += 1
            continue
        import difflib  # here: every command's start-up parses its options, and a grade's is on its critical path

        close = difflib.get_close_matches(name, list(actions), n=1)
        found.append(f"unknown option {name}" + (f"; did you mean {close[0]}?" if close
                                                 else f" ({parser.prog} --help lists the options)"))
    return found


class StrictOptionsParser(argparse.ArgumentParser):
    """A subcommand's parser that refuses an unknown option in one line naming the closest known one, before
    argparse's own checks (which would say only "unrecognized arguments", or first that --out is missing).
    A negative percentage is a value, as a negative number is."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(f"(?:{_NUMBER.pattern})$")  # argparse's own, with %

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        """argparse's, once no option of ``args`` is unknown (else exit 2 with the one line)."""
        unknown = unknown_options(self, list(sys.argv[1:] if args is None else args))
        if unknown:
            self.exit(EXIT_USAGE, f"{self.prog}: error: {'; '.join(unknown)}\n")
        return super().parse_known_args(args, namespace)


def _no_wait(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-wait", action="store_true",
                   help="when another command is writing OUTDIR, exit with status 75 instead of waiting for it")
    if p.prog.split()[-1] != "similarity":
        p.add_argument("--force", action="store_true",
                       help="overwrite a grades.csv that was edited by hand (it is kept as "
                            "grades.edited-<time>.csv); without it the command refuses (exit 2)")
