"""Requests to the child are pipelined (autograder/sandbox/box.py): the grader sends several before it reads their
replies.  Each request still gets its own answer, its own time limit, and a fault (a hang, a crash) costs only the
request that caused it: the requests queued behind it go to a fresh child."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.config import Limits
from autograder.sandbox.box import Sandbox
from autograder.sandbox.privileges import child_python, student_identity
from autograder.sandbox.wire import Handle

MODULE = '''
import os, time
import numpy as np

def f(x):
    if x == "hang":
        while True:
            time.sleep(0.01)
    if x == "die":
        os._exit(3)
    if x == "raise":
        raise ValueError("no")
    return x * 2

def echo(a):
    return a + 1.0

def shout(k):
    print(f"call {k}")
    return k

def forward(k):
    return k, [k, k, k]

def backward(cache):
    return sum(cache)

def loss(w):
    if w[0] > 0.5:  # the second evaluation of the batch below
        while True:
            time.sleep(0.01)
    return float(w.sum())
'''


@pytest.fixture
def box(tmp_path):
    (tmp_path / "m.py").write_text(MODULE)
    sandbox = Sandbox(tmp_path, ["m.py"], Limits(call_seconds=2.0), student_identity(), child_python())
    with sandbox:
        assert sandbox.load("m").ok
        yield sandbox


@pytest.mark.parametrize("bad, fault", [("hang", "time limit of 2 s"), ("die", "exited with status 3")])
def test_a_fault_in_the_queue_costs_only_its_request(box, bad, fault):
    inputs = [1, 2, bad, 3, "raise", 4]
    pendings = [box.submit_call("m", "f", [x]) for x in inputs]  # all sent before any reply is read
    replies = [p.result() for p in pendings]
    assert [r.value for r in replies if r.ok] == [2, 4, 6, 8]
    assert fault in replies[2].fault
    assert not replies[4].ok and replies[4].error_type == "ValueError" and not replies[4].fault
    assert box.generation == 2  # one fresh child after the fault, shared by the requests queued behind it


def test_replies_collected_out_of_order_keep_their_request(box):
    pendings = [box.submit_call("m", "f", [x]) for x in range(8)]
    assert pendings[5].result().value == 10
    assert [p.result().value for p in pendings] == [2 * x for x in range(8)]


def test_a_queue_larger_than_the_pipes_does_not_block(box):
    """Requests and replies of 800 KB each, many times a pipe's buffer: the grader reads replies to make room."""
    arrays = [np.full(100_000, float(k)) for k in range(12)]
    pendings = [box.submit_call("m", "echo", [a]) for a in arrays]
    for k, p in enumerate(pendings):
        reply = p.result()
        assert reply.ok and reply.value.shape == (100_000,) and np.all(reply.value == k + 1.0)


def test_printed_output_includes_every_request_sent(box):
    """The public tests' output is read once every request sent before it is answered (grader.grade reads it
    before any hidden request is sent)."""
    for k in range(5):
        box.submit_call("m", "shout", [k])
    printed = box.output()
    later = box.submit_call("m", "shout", [99])
    assert later.result().ok
    assert all(f"call {k}" in printed for k in range(5)) and "call 99" not in printed


@pytest.mark.parametrize("bad", ["hang", "die"])
def test_a_call_on_a_kept_value_follows_it_to_a_fresh_child(box, bad):
    """A backward sent right behind its forward (the handle named by the grader) still finds the forward's cache
    when a fault between them replaced the child: the forward runs again in the new child first."""
    forward = box.submit_call("m", "forward", [5], keep=(1,), keep_as=(1000,))
    fault = box.submit_call("m", "f", [bad])
    backward = box.submit_call("m", "backward", [Handle(1000)], needs=forward)
    assert forward.result().ok and forward.result().value[1].id == 1000
    assert not fault.result().ok
    reply = backward.result()
    assert reply.ok and reply.value == 15 and box.generation == 2


def test_without_needs_a_fresh_child_lacks_the_kept_value(box):
    """The counter-test: the same backward not naming its forward reaches a child that never ran it."""
    box.submit_call("m", "forward", [5], keep=(1,), keep_as=(1000,))
    box.submit_call("m", "f", ["die"])
    reply = box.submit_call("m", "backward", [Handle(1000)]).result()
    assert not reply.ok and box.generation == 2


def test_held_requests_reach_the_child_only_at_release(box):
    """What is submitted inside held() (hidden inputs, made ready before the public tests end) runs only once
    released: requests submitted after the block, and the output read before release, come first."""
    first = box.submit_call("m", "shout", [1])
    with box.held():
        held = [box.submit_call("m", "shout", [k]) for k in (2, 3)]
    later = box.submit_call("m", "shout", [4])
    assert later.result().value == 4 and all(p.reply is None for p in held)
    printed = box.output()
    assert "call 1" in printed and "call 4" in printed and "call 2" not in printed and "call 3" not in printed
    box.release()
    assert [p.result().value for p in (first, *held)] == [1, 2, 3]
    assert box.output().index("call 4") < box.output().index("call 2")


def test_a_held_request_asked_for_is_released_with_those_before_it(box):
    with box.held():
        held = [box.submit_call("m", "shout", [k]) for k in (1, 2)]
    assert held[1].result().value == 2 and held[0].reply is not None
    assert box.output().index("call 1") < box.output().index("call 2")


def test_a_batch_stops_at_the_first_evaluation_past_a_calls_limit(box):
    """A gradient check's batch has its own long limit, but each evaluation a call's: a function that never returns
    costs the call limit (2 s here), not the batch's, and the message says where it was stopped; the batch counts
    as a call of the function (box.Hangs)."""
    plans = [{"path": [0], "index": np.array([0, 0, 0]), "delta": np.array([0.1, 1.0, 2.0])}]
    reply = box.call_many("m", "loss", [np.zeros(3)], {}, plans, [0])
    assert reply.timed_out and reply.fault.startswith("did not finish within the time limit of 2 s; it was stopped "
                                                      "in loss (m.py, line"), reply.fault
    assert box._hangs.timeouts == {("m", "loss"): 1}
    fine = box.call_many("m", "loss", [np.zeros(3)], {}, [{**plans[0], "delta": np.array([0.1, 0.2])}], [0])
    assert fine.ok and np.allclose(fine.stacked[0], [0.1, 0.2])
