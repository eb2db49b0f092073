"""Gradescope: the autograder zip, and what its two scripts run.

    python -m autograder.integrations.gradescope build [--assignment NAME] [--out dist/autograder.zip]
        the zip to upload
    python -m autograder.integrations.gradescope try SUBMISSION [--zip ZIP]
        run the zip locally, as Gradescope would
    python -m autograder.integrations.gradescope run [--root /autograder]
        run_autograder: grade one submission
    python -m autograder.integrations.gradescope selftest
        setup.sh: grade the reference once

The zip holds setup.sh and run_autograder at its root, the grader package, the
config, the assignment's homework and behaviours modules, the reference solution
and ``gradescope.json`` (which config, which files, which commit).  ``run`` grades
the upload with ``python -m autograder grade`` in a separate process, which finds the work in it by the rule every
path shares (``submissions.locate``), and writes ``results/results.json``; whatever goes wrong,
it still writes a results.json that says so.  This module imports only the
standard library, so that holds even when numpy or the config is broken.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

from autograder.files import remove_tree
from autograder.grading.results import no_tests, tolerant_stdio, write_json_atomic
from autograder.sandbox.privileges import kill_strays, student_identity
from autograder.submissions.locate import shown_names, uploaded_files

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "gradescope"
MANIFEST = "gradescope.json"
DEFAULT_ROOT = Path("/autograder")
# Gradescope stops an autograder after 10 minutes by default and then shows nothing; stop first and say why.
DEFAULT_TIMEOUT = 540.0
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same tree gives the same bytes
STAFF_LOG = "this run's autograder output (stdout), visible to instructors only"


# -- building the zip ------------------------------------------------------------------------------------------------
def _commit() -> str:
    """The commit the zip is built from, with "+changes" when the tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def _inside_repo(path: Path, what: str) -> str:
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        raise SystemExit(f"{what} {path} is outside the repository; the zip mirrors the repository's layout") from None


def zip_members(config_path: Path) -> tuple[dict[str, Path], dict]:
    """What goes in the zip (name in the zip -> file in the repository) and the manifest."""
    from autograder.config import load_config  # needs pyyaml: building only

    config = load_config(config_path)
    members = {"setup.sh": SCRIPTS / "setup.sh", "run_autograder": SCRIPTS / "run_autograder",
               "requirements.txt": REPO / "requirements.txt"}
    package = REPO / "autograder"
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            members[_inside_repo(path, "grader file")] = path
    members[_inside_repo(config.path, "the config")] = config.path
    # The assignment's homework module builds every test's inputs, hidden ones included, and its behaviours
    # module runs the behaviour checks: instructor code the grader imports (not secret; the reference is).
    for path in (config.homework_path, config.behaviours_path):
        if path is not None and path.is_file():
            members[_inside_repo(path, "an assignment module")] = path
    # The template fingerprints: the notes on edited template parts and on files handed in as released.
    from autograder.grading import fingerprint

    prints = fingerprint.path_for(config.path)
    if prints.is_file():
        members[_inside_repo(prints, "the template fingerprints")] = prints
    for name in config.files:
        members[_inside_repo(config.reference / name, "the reference solution")] = config.reference / name
    manifest = {
        "assignment": config.assignment,
        "config": _inside_repo(config.path, "the config"),
        "reference": _inside_repo(config.reference, "the reference solution"),
        "files": list(config.files),
        "commit": _commit(),
    }
    return members, manifest


def build(out: Path, config_path: Path) -> Path:
    """Write the zip to upload to Gradescope; the same files give the same bytes."""
    members, manifest = zip_members(config_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [(name, path.read_bytes()) for name, path in members.items()]
        entries.append((MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode()))
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if name in ("setup.sh", "run_autograder") else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, data)
    os.replace(tmp, out)
    return out


# -- a simulated Gradescope root -------------------------------------------------------------------------------------
def unpack(zip_path: Path, root: Path) -> Path:
    """Lay out ``root`` as Gradescope does: source/ (the zip), run_autograder, submission/, results/."""
    source = root / "source"
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = (source / info.filename).resolve()
            if not target.is_relative_to(source.resolve()):
                raise ValueError(f"{info.filename}: outside the zip's folder")
            archive.extract(info, source)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir(exist_ok=True)
    (root / "results").mkdir(exist_ok=True)
    metadata = {"id": 0, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "assignment": {"title": "local try"},
                "users": [], "previous_submissions": []}
    (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return root


# -- grading one upload ------------------------------------------------------------------------------------------------
def secure_layout(root: Path) -> None:
    """Nothing of the grader is readable by student code, and only root writes results.

    setup.sh already made source/ private; this repeats it (it costs nothing) so
    that a re-extracted or hand-copied source stays safe.  The metadata lists the
    student's earlier results, hidden tests included: root only.
    """
    for dirpath, _, filenames in os.walk(root / "source"):
        for path in [Path(dirpath), *(Path(dirpath) / f for f in filenames)]:
            if not path.is_symlink():
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & 0o700)
    results = root / "results"
    results.mkdir(exist_ok=True)
    os.chmod(results, stat.S_IMODE(os.stat(results).st_mode) & ~0o022)
    metadata = root / "submission_metadata.json"
    if metadata.exists():
        os.chmod(metadata, 0o600)


def failure(student: str, staff: str) -> dict:
    """A results.json for a submission that could not be graded: score 0, and why."""
    return no_tests(f"{student}\nCourse staff: {staff}")


NOT_YOUR_CODE = ("This submission could not be graded: the autograder itself failed (not a problem found in your "
                 "code). Please tell the course staff.")


def _sweep(grader_pid: int) -> None:
    """Kill whatever the grader or student code left running.

    As root, by the student uid the grader derived from its pid.  Otherwise by
    what is re-parented here (this process is a subreaper): a process comes back
    only when its parent dies, so sweep until a pass finds nothing.
    """
    identity = student_identity(grader_pid)
    uid = identity.uid if identity else None
    for _ in range(5):
        killed = kill_strays(grader_pid, uid)
        time.sleep(0.05)
        try:  # reap what was re-parented here, so that it is not seen again
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if not killed:
            break


def grade_upload(source: Path, upload: Path, timeout: float = DEFAULT_TIMEOUT) -> tuple[dict, list[str]]:
    """Grade a student's upload with the autograder in ``source``: (results.json document, log for the staff)."""
    log: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="autograder_gradescope_"))  # mode 0700: the grader's own
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
        log.append(f"autograder for {manifest['assignment']} built from commit {manifest['commit']}")
        uploaded = f"Files uploaded: {shown_names(uploaded_files(upload))}"
        log.append(uploaded)
        return _grade(source, manifest, upload, uploaded, work, timeout, log), log
    except Exception:  # noqa: BLE001 -- whatever it is, the student gets an answer and the staff the traceback
        log.append(traceback.format_exc())
        return failure(NOT_YOUR_CODE, f"the Gradescope wrapper failed before grading; the traceback is in "
                                      f"{STAFF_LOG}."), log
    finally:
        remove_tree(work)


def _grade(source: Path, manifest: dict, upload: Path, uploaded: str, work: Path, timeout: float,
           log: list[str]) -> dict:
    results = work / "results.json"
    cmd = [sys.executable, "-m", "autograder", "grade", str(upload), "--results", str(results),
           "--config", str(source / manifest["config"])]
    # Its output is read back as UTF-8 whatever the machine's locale.
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:backslashreplace"}
    with open(work / "grader.out", "w+b") as out, open(work / "grader.err", "w+b") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=source, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True, env=env)
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # it finished just now
                pass
            proc.wait()
            code = None
        finally:
            _sweep(proc.pid)
        for f in (out, err):
            f.seek(0)
            log.append(f.read().decode(errors="replace").rstrip())
    log.append(f"grader exit status {code} after {time.monotonic() - start:.1f} s")
    document = _document(results, log)
    if code not in (0, None) and document is not None:
        # The grader writes results.json before it prints: a crash after it (printing, cleanup) costs no grade.
        log.append("the grader failed after writing a complete results.json: that result is used")
        code = 0
    if code is None:
        return failure(
            f"Grading did not finish within {timeout:g} seconds, so it was stopped and no test was scored. Code "
            "that is far slower than it needs to be (or never finishes) causes this: time your functions on the "
            "public tests (python -m autograder check) and resubmit.",
            f"the grader was stopped after AUTOGRADER_TIMEOUT = {timeout:g} s; its output so far is in {STAFF_LOG}.")
    if code != 0:
        what = ("refused to start (a setup problem: the config, the reference, or a Python that student code cannot "
                "run)") if code == 2 else "crashed"
        return failure(NOT_YOUR_CODE, f"the grader {what} with exit status {code}; the reason is in {STAFF_LOG}.")
    if document is None:
        return failure(NOT_YOUR_CODE, f"the grader finished without a usable results.json; see {STAFF_LOG}.")
    document["output"] = uploaded + "\n" + str(document.get("output", ""))
    return document


def _document(results: Path, log: list[str]) -> dict | None:
    """The grader's results.json when it is complete (a score and a list of tests), else None (and why, in log)."""
    if not results.exists():
        return None
    try:
        document = json.loads(results.read_text(encoding="utf-8"))
        if not isinstance(document.get("tests"), list) or not isinstance(document.get("score"), (int, float)):
            raise ValueError("no score or tests")
    except (OSError, ValueError, AttributeError) as exc:
        log.append(f"unusable results.json from the grader: {exc}")
        return None
    return document


def run(root: Path, timeout: float) -> int:
    """run_autograder's work: grade root/submission into root/results/results.json."""
    secure_layout(root)
    document, log = grade_upload(root / "source", root / "submission", timeout)
    # Atomic: a crash leaves the old file or none, never half of one.  Readable by Gradescope's harness.
    write_json_atomic(root / "results" / "results.json", document, mode=0o644)
    print("\n".join(log))
    print(f"score: {document['score']:g} of {sum(t.get('max_score', 0) for t in document['tests']):g}")
    return 0


def selftest(source: Path, timeout: float) -> int:
    """Grade the reference solution as a student submission: 0 when it gets full marks."""
    manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    document, log = grade_upload(source, source / manifest["reference"], timeout)
    print("\n".join(log))
    tests = document["tests"]
    total = sum(t["max_score"] for t in tests)
    if tests and document["score"] == total and all(t.get("status") == "passed" for t in tests):
        print(f"self-test passed: the reference solution scores {total:g} of {total:g}")
        return 0
    failed = [t["name"] for t in tests if t.get("status") != "passed"]
    print(f"self-test FAILED: the reference solution scores {document['score']:g} of {total:g}; "
          f"failed: {failed[:5]}\n{document['output']}", file=sys.stderr)
    return 1


def try_zip(zip_path: Path, submission: Path, keep: bool) -> int:
    """Run the zip's run_autograder on a submission in a temporary root laid out like Gradescope's."""
    root = Path(tempfile.mkdtemp(prefix="gradescope_root_"))
    os.chmod(root, 0o755)  # like /autograder: reachable by every user, so the permissions inside it matter
    try:
        unpack(zip_path, root)
        if submission.is_dir():
            shutil.copytree(submission, root / "submission", symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(submission, root / "submission")
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
        proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, encoding="utf-8",
                              errors="replace")
        document = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    finally:
        if not keep:
            remove_tree(root)
    print(f"== autograder output (stdout; instructors only) ==\n{proc.stdout}{proc.stderr}")
    print(f"== results.json: what the student sees ==\n{document['output']}\n")
    for t in document["tests"]:
        mark = "PASS" if t["score"] >= t["max_score"] else "FAIL"
        print(f"[{mark}] {t['score']:g}/{t['max_score']:g}  {t['name']}  ({t['visibility']})")
    print(f"\nscore: {document['score']:g} of {sum(t['max_score'] for t in document['tests']):g}")
    if keep:
        print(f"the simulated root is kept in {root}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.integrations.gradescope", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="build the zip to upload to Gradescope")
    p.add_argument("--out", type=Path, default=REPO / "dist" / "autograder.zip")
    p.add_argument("--assignment", help="assignments/NAME/assignment.yaml (default: the default assignment)")
    p.add_argument("--config", type=Path, help="an assignment.yaml by path, instead of --assignment")
    p = sub.add_parser("try", help="run the zip's run_autograder on a submission, locally")
    p.add_argument("submission", type=Path, help="a folder (or one file) as a student would upload it")
    p.add_argument("--zip", type=Path, default=REPO / "dist" / "autograder.zip",
                   help="the zip to try (default: dist/autograder.zip, what `make gradescope` writes)")
    p.add_argument("--keep", action="store_true", help="keep the simulated root to look at")
    p = sub.add_parser("run", help="grade root/submission into root/results/results.json (run_autograder)")
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    sub.add_parser("selftest", help="grade the reference solution; fail unless full marks (setup.sh)")
    args = parser.parse_args(argv)
    tolerant_stdio()  # run_autograder prints the grader's output: under any locale, that must not fail
    if args.command in ("run", "selftest"):
        from autograder.sandbox.privileges import harden_grader

        harden_grader()  # a subreaper: student processes that outlive the grader come back here to be killed
    timeout = float(os.environ.get("AUTOGRADER_TIMEOUT") or DEFAULT_TIMEOUT)
    if args.command == "build":
        from autograder.config import ConfigError, config_path

        try:
            out = build(args.out, config_path(args.assignment, args.config))
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {out} ({out.stat().st_size} bytes)")
        return 0
    if args.command == "try":
        if not args.zip.is_file():
            print(f"error: no autograder zip at {args.zip}: build it first (`make gradescope`, or `python -m "
                  "autograder.integrations.gradescope build --out PATH`) or give its path with --zip PATH",
                  file=sys.stderr)
            return 2
        if not args.submission.exists():
            print(f"error: {args.submission} does not exist: give a folder or a file as a student would upload it",
                  file=sys.stderr)
            return 2
        return try_zip(args.zip, args.submission, args.keep)
    if args.command == "run":
        return run(args.root, timeout)
    return selftest(Path(__file__).resolve().parents[2], timeout)


if __name__ == "__main__":
    from autograder import finish

    finish(main())
