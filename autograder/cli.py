"""Command line: ``python -m autograder {grade,check,templates} ...``.

grade      grade one submission, write Gradescope's results.json (exit 0 whenever grading finished)
check      the student's self-check: public tests only, a table per function
templates  regenerate the student templates from the solutions (--check: fail when stale)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import templates
from autograder.config import Config, ConfigError, check_cases, load_config

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "assignments" / "hw_rnn" / "assignment.yaml"


def _config(path: str | None, cases: bool = True) -> Config:
    """The assignment config; cases=False leaves the case check (which imports numpy) to the caller."""
    config = load_config(Path(path) if path else DEFAULT_CONFIG)
    if cases:
        _check_cases(config)
    return config


def _check_cases(config: Config) -> None:
    from autograder.homework import required_case_keys

    check_cases(config, required_case_keys())


def _submission(path: str) -> Path:
    """The folder to grade: the one given, or the files extracted from a filled notebook."""
    submission = Path(path)
    if submission.is_file() and submission.suffix == ".ipynb":
        from autograder.extract import prepare

        return prepare(submission)[0]
    if not submission.is_dir():
        raise ConfigError(f"submission folder {path!r} does not exist (give the folder holding your .py files, "
                          "or your filled .ipynb notebook)")
    return submission


def _start_early(config: Config, submission: Path):
    """Start the student's child process before this process imports numpy, so both load at once."""
    from autograder.sandbox import Sandbox
    from autograder.submission import find_files

    box = Sandbox(submission, find_files(submission, config.files)[0], config.limits)
    box.start()
    return box


def cmd_grade(args: argparse.Namespace) -> int:
    config = _config(args.config, cases=False)
    submission = _submission(args.submission)
    box = _start_early(config, submission)
    _check_cases(config)
    from autograder.grader import grade
    from autograder.report import table
    from autograder.results import to_gradescope, write_json_atomic

    report = grade(submission, config, box=box)
    write_json_atomic(args.results, to_gradescope(report, config))
    if not args.quiet:
        print(table(report))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    config = _config(args.config, cases=False)
    submission = _submission(args.submission)
    box = _start_early(config, submission)
    _check_cases(config)
    from autograder.grader import grade
    from autograder.report import table

    report = grade(submission, config, public_only=True, box=box)
    print(table(report))
    if report.student_output:
        print("\nOutput printed by your code:\n" + report.student_output)
    print("\nThese are the public tests only; hidden tests use other inputs and shapes.")
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if args.check:
        stale = templates.stale(config.reference, config.templates, config.files)
        if stale:
            print(f"templates out of date: {', '.join(stale)} (run `make templates`)", file=sys.stderr)
            return 1
        print("templates are up to date")
        return 0
    written = templates.write(config.reference, config.templates, config.files)
    print(f"wrote {', '.join(written)}" if written else "templates are up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="assignment.yaml (default: the RNN homework's)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grade", parents=[common], help="grade a submission folder into results.json")
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
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
