"""Children forked from a fork server (autograder/sandbox/forkserver.py, as grade-all's workers use) are the
children a fresh Python would be: the student's identity, limits, environment and folder, sealed, and nothing
of an earlier child; the server survives their ends and their attacks, and when it is gone, children start
Python themselves."""

from __future__ import annotations

import os
import signal

import pytest

from autograder.config import Limits
from autograder.sandbox import forkserver
from autograder.sandbox.box import Sandbox
from autograder.sandbox.landlock import abi_version
from autograder.sandbox.privileges import child_python, student_identity

MODULE = '''
import os, resource, sys
import numpy as np

def facts():
    return {"ppid": os.getppid(), "uid": os.getuid(), "gid": os.getgid(), "groups": list(os.getgroups()),
            "cwd": os.getcwd(), "home": os.environ.get("HOME", ""), "env": sorted(os.environ),
            "as": resource.getrlimit(resource.RLIMIT_AS)[0], "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
            "sid": os.getsid(0) == os.getpid(), "path0": sys.path[0]}

def leave_a_mark():
    np.LEFT_BY_AN_EARLIER_STUDENT = 1
    sys.modules["json"].LEFT = 1
    return 0

def marks():
    import json
    return [hasattr(np, "LEFT_BY_AN_EARLIER_STUDENT"), hasattr(json, "LEFT")]

def draws():
    import random
    return [float(np.random.rand()), random.random()]

def kill_parent():
    os.kill(os.getppid(), 9)
    return "killed"
'''


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_FORK_SERVER", "1")
    yield
    for s in list(forkserver._SERVERS.values()):
        if s is not None:
            s.close()
    forkserver._SERVERS.clear()


LIMITS = Limits(memory_mb=1536, cpu_seconds=90)


def _box(folder) -> Sandbox:
    (folder / "m.py").write_text(MODULE)
    return Sandbox(folder, ["m.py"], LIMITS, student_identity(), child_python())


def test_a_forked_child_is_confined_like_a_started_one(tmp_path, server):
    facts = {}
    for mode in ("1", "0"):
        os.environ["AUTOGRADER_FORK_SERVER"] = mode
        folder = tmp_path / mode
        folder.mkdir()
        with _box(folder) as box:
            assert box.load("m").ok
            facts[mode] = box.call("m", "facts", []).value
            facts[mode]["sealed"] = box.confinement.startswith("sealed:")
            facts[mode]["forked"] = isinstance(box.proc, forkserver.ForkedChild)
            facts[mode]["workdir"] = str(box.workdir)
    forked, started = facts["1"], facts["0"]
    assert forked["forked"] and not started["forked"]
    assert forked["ppid"] == forkserver._SERVERS[child_python()].proc.pid
    identity = student_identity()
    if identity is not None:
        assert forked["uid"] == identity.uid and forked["gid"] == identity.gid and forked["groups"] == []
    for key in ("as", "cpu", "sid", "env", "sealed"):
        assert forked[key] == started[key], key
    assert forked["as"] == 1536 << 20 and forked["cpu"] == 90 and forked["sid"]
    assert forked["cwd"] == forked["home"] == forked["path0"] == forked["workdir"]
    assert forked["sealed"] == bool(abi_version())


def test_nothing_of_an_earlier_child_reaches_the_next(tmp_path, server):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with _box(tmp_path / "a") as box:
        assert box.load("m").ok and box.call("m", "leave_a_mark", []).ok
        assert box.call("m", "marks", []).value == [True, True]
        first = box.proc.pid
    with _box(tmp_path / "b") as box:
        assert box.load("m").ok
        assert box.call("m", "marks", []).value == [False, False]
        assert box.proc.pid != first


def test_each_child_draws_its_own_random_numbers(tmp_path, server):
    """Unseeded draws (numpy's global generator and the random module) differ between children, as they do
    between freshly started Pythons."""
    seen = []
    for name in "abc":
        (tmp_path / name).mkdir()
        with _box(tmp_path / name) as box:
            assert box.load("m").ok and isinstance(box.proc, forkserver.ForkedChild)
            seen.append(box.call("m", "draws", []).value)
    assert len({s[0] for s in seen}) == 3 and len({s[1] for s in seen}) == 3


@pytest.mark.skipif(student_identity() is None and not abi_version(),
                    reason="the child shares the grader's uid and no Landlock: it could signal its parent")
def test_the_server_survives_an_attack_and_its_childrens_ends(tmp_path, server):
    (tmp_path / "a").mkdir()
    with _box(tmp_path / "a") as box:
        assert box.load("m").ok
        reply = box.call("m", "kill_parent", [])
        assert not reply.ok and reply.error_type == "PermissionError"
        box.kill()  # ends the child the way a fault does (and kills strays of its uid)
    server_proc = forkserver._SERVERS[child_python()].proc
    assert server_proc.poll() is None
    (tmp_path / "b").mkdir()
    with _box(tmp_path / "b") as box:
        assert box.load("m").ok and isinstance(box.proc, forkserver.ForkedChild)
        assert box.call("m", "facts", []).value["ppid"] == server_proc.pid


def test_a_dead_server_is_replaced(tmp_path, server):
    (tmp_path / "a").mkdir()
    with _box(tmp_path / "a") as box:
        assert box.load("m").ok
    server_proc = forkserver._SERVERS[child_python()].proc
    os.kill(server_proc.pid, signal.SIGKILL)
    server_proc.wait()
    (tmp_path / "b").mkdir()
    with _box(tmp_path / "b") as box:
        assert box.load("m").ok and isinstance(box.proc, forkserver.ForkedChild)
        assert box.call("m", "marks", []).value == [False, False]
        assert box.call("m", "facts", []).value["ppid"] not in (server_proc.pid, os.getpid())


def test_without_a_server_a_child_starts_python_itself(tmp_path, server, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise OSError("no fork server here")

    monkeypatch.setattr(forkserver, "ForkServer", broken)
    with _box(tmp_path) as box:
        assert box.load("m").ok and not isinstance(box.proc, forkserver.ForkedChild)
        assert box.call("m", "facts", []).value["ppid"] == os.getpid()
    assert "no fork server (OSError: no fork server here)" in capsys.readouterr().err


def test_a_child_closed_at_once_does_not_survive(tmp_path, server):
    """A submission with nothing to import closes its sandbox right after the fork: the child must already
    lead its own process group then, or the kill misses it and it outlives grading."""
    for k in range(12):
        folder = tmp_path / str(k)
        folder.mkdir()
        box = _box(folder)
        box.start()
        pid = box.proc.pid
        assert isinstance(box.proc, forkserver.ForkedChild)
        box.close()
        assert box.proc is None
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            state = "gone"
        assert state in ("gone", "Z"), (k, state)
