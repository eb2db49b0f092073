"""Which graded arrays have a time axis, as the assignments' API documents say, and a check of feedback against it.

The table is written from the APIs (assignments/*/README.md, API.md), apart from the homework modules'
TIME_AXES that the grader reads, so a test comparing the two catches a wrong declaration.  Every other
output or gradient (parameter gradients, (N, H) states, dicts of parameters, losses of training steps,
integer tokens) has no time axis: feedback about it must not name a time step.
"""

from __future__ import annotations

import re

# assignment -> (function, output or gradient) -> (the axis that is time, the case key that is its length)
TIME_AXES = {
    "hw_rnn": {
        ("rnn_forward", "s"): (1, "T"),  # (N, T, H)
        ("rnn_backward", "dx"): (1, "T"),  # (N, T, D)
        ("output_forward", "o"): (1, "T"),  # (N, T, K)
        ("output_backward", "ds"): (1, "T"),  # (N, T, H)
        ("softmax_cross_entropy", "do"): (1, "T"),  # (N, T, K)
        ("lstm_forward", "h"): (1, "T"),  # (N, T, H)
        ("lstm_backward", "dx"): (1, "T"),  # (N, T, D)
        ("one_hot", "out"): (1, "T"),  # (N, T, K)
        ("state_gradient_norms", "norms"): (0, "T"),  # (T,)
    },
    "hw_seq2seq": {
        ("encoder_forward", "s"): (1, "T_src"),  # (N, T_src, H)
        ("encoder_backward", "dx"): (1, "T_src"),  # (N, T_src, D)
        ("embed_forward", "x"): (1, "T_tgt"),  # (N, T_tgt, D)
        ("decoder_forward", "o"): (1, "T_tgt"),  # (N, T_tgt, K)
        ("masked_cross_entropy", "do"): (1, "T_tgt"),  # (N, T_tgt, K)
    },
}

# "case 2 of 3 (seed 32, N=2, T=4, D=3, H=5): "
_CASE = re.compile(r"^case \d+ of \d+ \((?P<keys>[^)]*)\): ")
# "dW is wrong in 20 of 25 entries: worst relative error 1.28e+00 at index (0, 4), time step 4; wrong at every
# time step (T = 5) (got ...": the array, the index, and the time wording when there is any.
_WRONG = re.compile(r"(?P<name>[\w\[\]']+) is wrong in \d+ of \d+ entries: worst relative error \S+ at index "
                    r"\((?P<index>[\d, ]*)\)(?P<time>, time step (?P<step>\d+); (?P<steps>wrong at every time step|"
                    r"wrong at time steps \[(?P<wrong>[\d, ]*)\] but right at \[[\d, ]*\]) \(T = (?P<T>\d+)\))?")


def case_keys(output: str) -> dict[str, str]:
    """The case keys a public test's failure message starts with (empty for hidden or general messages)."""
    found = _CASE.match(output)
    if not found:
        return {}
    return dict(part.split("=", 1) for part in found["keys"].split(", ") if "=" in part)


def check_time_wording(assignment: str, function: str, output: str, hidden: bool = False) -> int:
    """Assert that a failed test's message names a time step only for an array with a time axis, at the
    step where its worst entry is and with the case's T; return how many array messages named one.

    ``output`` is the test's whole output; the hints added after it (``\\nHint: ...``) may speak of time
    steps in general and are left out.
    """
    message = output.split("\nHint: ")[0]
    if hidden:
        assert "time step" not in message, (function, message)
        return 0
    keys = case_keys(message)
    named = 0
    for found in _WRONG.finditer(message):
        axis_key = TIME_AXES[assignment].get((function, found["name"]))
        index = [int(i) for i in found["index"].replace(" ", "").split(",") if i]
        if axis_key is None:
            assert found["time"] is None, f"{function}: {found['name']} has no time axis: {message}"
            continue
        axis, key = axis_key
        assert found["time"] is not None, f"{function}: {found['name']} has a time axis: {message}"
        step, T = int(found["step"]), int(found["T"])
        assert step == index[axis], message
        if key in keys:
            assert T == int(keys[key]), f"T should be {key} = {keys[key]}: {message}"
        if found["wrong"] is not None:
            assert step in [int(i) for i in found["wrong"].split(", ")], message
        else:
            assert found["steps"] == "wrong at every time step"
        named += 1
    # Every time step the message names belongs to an array message checked above.
    assert message.count(", time step ") == named, message
    return named
