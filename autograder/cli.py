"""Command line: ``python -m autograder {grade,check,templates} ...``.

grade      grade one submission, write Gradescope's results.json (exit 0 whenever grading finished)
check      the student's self-check: public tests only, a table per function
templates  regenerate the student templates from the solutions (--check: fail when stale)
release    build the student bundle: templates, handout and the public self-check (dist/student/)
grade-all, regrade, override, feedback: grading a whole class (see classroom/batch_cli.py)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import config as config_module
from autograder.config import Config, ConfigError, check_config_cases, check_required_files, command_config
from autograder.release import templates

REPOSITORY = Path(__file__).resolve().parent.parent


def _submission(path: str, config: Config, ungradable: bool = False):
    """Where the work is in a folder, zip, .py or .ipynb file (``submissions.locate``): a ``Located``.

    A path that is not there (or a link) is the command's problem: ConfigError.  What is there but cannot be
    graded (a damaged or unsafe zip) too, unless ``ungradable``: then SubmissionProblem, for ``grade`` to put
    the reason in results.json, where the student reads it (Gradescope)."""
    from autograder.submissions.locate import SubmissionProblem, locate_work

    try:
        return locate_work(Path(path), config)
    except SubmissionProblem as exc:
        if ungradable and Path(path).exists() and not Path(path).is_symlink():
            raise
        raise ConfigError(str(exc)) from None


def _start_early(config: Config, submission: Path):
    """Start the student's child process (forked from the fork server ``prestart_child`` started, which loaded
    Python and numpy while this process did; or a fresh Python when there is none)."""
    from autograder.sandbox.box import open_sandbox

    return open_sandbox(submission, config)


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grading.results import ResultsPathError, output_target

    try:  # before grading: a results path that cannot be written stops us now, not after the work
        output_target(args.results)
    except ResultsPathError as exc:
        raise ConfigError(str(exc)) from None
    config = command_config(args.config, cases=False, assignment=args.assignment)
    check_required_files(config)  # a copied config whose relative paths point nowhere: one line, not a crash
    from autograder.submissions.locate import SubmissionProblem

    try:
        located = _submission(args.submission, config, ungradable=True)
    except SubmissionProblem as exc:
        from autograder.grading.results import could_not_grade, write_json_atomic

        try:
            write_json_atomic(args.results, could_not_grade(str(exc)))
        except OSError as error:
            raise ConfigError(f"cannot write the results to {args.results}: {error}") from None
        print(f"not graded: {exc}", file=sys.stderr)
        return 1
    # The grader loads numpy (and the homework) while the fork server does, then forks the child from it.
    check_config_cases(config)
    from autograder.grading.grader import grade
    from autograder.grading.report import table
    from autograder.grading.results import to_gradescope, write_json_atomic
    from autograder.sandbox.privileges import PrivilegeError

    try:
        box = _start_early(config, located.folder)
        report = grade(located.folder, config, box=box)
    except (ConfigError, PrivilegeError):
        raise  # the grader cannot run here at all (main says why, exit 2): no submission's result to write
    except Exception:  # noqa: BLE001 -- the grader's own failure: still a results.json, and the traceback for the staff
        import traceback

        from autograder.grading.results import no_tests

        traceback.print_exc()
        write_json_atomic(args.results, no_tests("The grader itself failed on this submission (not something in "
                                                 "your code): the course staff have been told."))
        return 2
    report.notes[:0] = located.notes
    report.files_found = located.as_found(report.files_found)
    # results.json first: whatever happens while printing, the grade is on disk.
    try:
        write_json_atomic(args.results, to_gradescope(report, config))
    except OSError as exc:
        raise ConfigError(f"cannot write the results to {args.results}: {exc}") from None
    if not args.quiet:
        print(table(report))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    config = command_config(args.config, cases=False, assignment=args.assignment)
    check_required_files(config)  # a copied config whose relative paths point nowhere: one line, not a crash
    located = _submission(args.submission, config)
    check_config_cases(config)
    from autograder.grading.grader import grade
    from autograder.grading.report import public_only_line, table
    from autograder.text import clean_text

    box = _start_early(config, located.folder)
    report = grade(located.folder, config, public_only=True, box=box)
    report.notes[:0] = located.notes
    report.files_found = located.as_found(report.files_found)
    print(table(report))
    if report.student_output:
        print("\nOutput printed by your code:\n" + clean_text(report.student_output))
    print("\n" + public_only_line(report))
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    from autograder.grading import fingerprint  # not at the top: `grade` starts its child before such imports

    config = command_config(args.config, assignment=args.assignment)
    if args.check:
        stale = templates.stale(config.reference, config.templates, config.files)
        if fingerprint.stale(config.templates, config.files, config.path):
            stale.append(fingerprint.path_for(config.path).name)
        if stale:
            print(f"templates out of date: {', '.join(stale)} (run `make templates`)", file=sys.stderr)
            return 1
        print("templates are up to date")
        return 0
    written = templates.write(config.reference, config.templates, config.files)
    # The fingerprints follow the templates: the grader warns when a submission changes their protected parts.
    if fingerprint.write(config.templates, config.files, config.path):
        written.append(str(fingerprint.path_for(config.path)))
    print(f"wrote {', '.join(written)}" if written else "templates are up to date")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.release import bundle as release

    config = command_config(args.config, assignment=args.assignment)
    try:
        bundle = release.build(config, Path(args.out))
    except release.ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the bundle to {args.out}: {exc}", file=sys.stderr)
        return 2
    folder = bundle.with_suffix("")
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    public = [t for t in config.tests if not t.hidden]
    print(f"wrote {bundle} ({bundle.stat().st_size // 1024} KiB) and {folder}/ ({count} files): templates, handout, "
          f"and the self-check of {len(public)} public tests (`python check.py` inside the folder)")
    return 0




def _cache_folder() -> Path | None:
    """The grader's private cache folder, where parsed configs are kept (``privileges.cache_folder``)."""
    from autograder.sandbox.privileges import cache_folder

    return cache_folder()


def config_options(default: str = "$AUTOGRADER_ASSIGNMENT, else assignments/DEFAULT") -> argparse.ArgumentParser:
    """A parent parser with --assignment and --config; ``default`` says which config a command uses without them."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--assignment", help=f"the assignment to use: assignments/NAME/assignment.yaml (default: "
                                              f"{default})")
    options.add_argument("--config", help="an assignment.yaml by path, instead of --assignment")
    return options


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from autograder.sandbox.program import CHILD_COMMANDS

    if argv[:1] and argv[0] in CHILD_COMMANDS:
        # The child's Python and numpy load while this process builds its parser (the batch commands'
        # options import the submission layouts) and reads the config: a single grade waits for both.
        from autograder.sandbox.program import prestart_child

        prestart_child()
    config_module.parsed_cache = _cache_folder
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = config_options()
    from autograder.classroom import batch_cli

    # Every subcommand refuses an unknown option in one line naming the closest one.
    sub = parser.add_subparsers(dest="command", required=True, parser_class=batch_cli.StrictOptionsParser)
    p = sub.add_parser("grade", parents=[common],
                       help="grade a submission (folder, zip, .py or .ipynb) into results.json")
    p.add_argument("submission")
    p.add_argument("--results", default="results.json")
    p.add_argument("--quiet", action="store_true", help="do not print the table")
    p.set_defaults(run=cmd_grade)
    p = sub.add_parser("check", parents=[common], help="run the public tests on your folder")
    p.add_argument("submission")
    p.set_defaults(run=cmd_check)
    p = sub.add_parser("templates", parents=[common], help="regenerate the student templates")
    p.add_argument("--check", action="store_true")
    p.set_defaults(run=cmd_templates)
    p = sub.add_parser("release", parents=[common], help="build the student bundle (templates, handout, self-check)")
    p.add_argument("--out", default=str(REPOSITORY / "dist" / "student"),
                   help="output folder (default: dist/student)")
    p.set_defaults(run=cmd_release)
    batch_cli.register(sub, config_options)
    args = parser.parse_args(argv)
    from autograder.grading.results import tolerant_stdio

    tolerant_stdio()
    from autograder.sandbox.privileges import PrivilegeError, harden_grader

    harden_grader()
    try:
        return args.run(args)
    except (ConfigError, PrivilegeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
