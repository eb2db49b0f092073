"""Broken submissions: a fault costs only the tests that needed the faulty code.

Each submission is the reference with one fault planted; the grader must exit
0, write a valid results.json, keep full marks everywhere the fault does not
reach, and say what happened where it does.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import grade_cli, lost_functions, make_submission, with_callers, write_config

from autograder.sandbox.box import HANG_STRIKES

RNN = {"rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "output_forward", "output_backward",
       "softmax_cross_entropy", "clip_gradients"}  # the modules built on rnn_layers fail with it: see with_callers
CHAR_AND_SEQUENCE = {"one_hot", "char_rnn_loss", "adagrad_update", "train_char_rnn", "sample", "state_gradient_norms",
                     "many_to_one_loss"}  # modules that import rnn_layers: they fail to import with it
LSTM = {"sigmoid", "lstm_gates", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"}

RNN_FWD = "    N, T, _ = x.shape\n    s = np.empty((N, T, s0.shape[1]))\n"
LSTM_GATES = '    z = np.concatenate([h_prev, x_t], axis=1)\n    f = sigmoid('
STEP_BWD = "    x_t, s_prev, U, W, s_next = cache\n"

FAULTS = {
    # A call past its time says where it was stopped: the loop's line in the student's file.
    "infinite_loop": ([{"file": "rnn_layers.py", "find": RNN_FWD,
                        "replace": "    while True:\n        pass\n" + RNN_FWD}],
                      {"rnn_forward", "rnn_backward"},
                      "s; it was stopped in rnn_forward (rnn_layers.py, line"),
    "sleep": ([{"file": "rnn_layers.py", "find": RNN_FWD,
                "replace": "    import time\n    time.sleep(60)\n" + RNN_FWD}],
              {"rnn_forward", "rnn_backward"}, "; it was stopped in rnn_forward (rnn_layers.py, line"),
    # Printing without end: the time it took is put down to the printing.
    "print_until_stopped": ([{"file": "rnn_layers.py", "find": "    total_norm = float(",
                              "replace": "    while True:\n        print('x' * 10000)\n    total_norm = float("}],
                            {"clip_gradients"}, "printing that much is slow: remove the prints"),
    "sys_exit_in_call": ([{"file": "rnn_layers.py", "find": STEP_BWD, "replace": "    import sys\n    sys.exit(3)\n"}],
                         {"rnn_step_backward", "rnn_backward"}, "SystemExit"),
    "os_exit_in_call": ([{"file": "lstm_layers.py", "find": LSTM_GATES,
                          "replace": "    import os\n    os._exit(0)\n" + LSTM_GATES}],
                        {"lstm_gates", "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"},
                        "exited with status 0"),
    "deep_recursion": ([{"file": "rnn_layers.py", "find": "    o = s @ V.T + c\n",
                         "replace": "    def r(n):\n        return r(n + 1)\n    r(0)\n    o = s @ V.T + c\n"}],
                       {"output_forward", "output_backward"}, "RecursionError"),
    "huge_allocation": ([{"file": "rnn_layers.py", "find": "    o = s @ V.T + c\n",
                          "replace": "    big = np.ones(10**10)\n    o = s @ V.T + c + big[0] * 0\n"}],
                        {"output_forward", "output_backward"}, "MemoryError"),
    "syntax_error": ([{"file": "lstm_layers.py", "find": "def sigmoid(z):", "replace": "def sigmoid(z)"}],
                     LSTM, "SyntaxError"),
    "exit_at_import": ([{"file": "rnn_layers.py", "find": "import numpy as np\n",
                         "replace": "import numpy as np\nimport os\nos._exit(1)\n"}],
                       RNN | CHAR_AND_SEQUENCE, "could not be imported"),
    # A module the grader lacks, imported by rnn_layers.py: the files that import it say where the import fails.
    "missing_module_at_import": ([{"file": "rnn_layers.py", "find": "import numpy as np\n",
                                   "replace": "import numpy as np\nimport plotting_helpers_not_here\n"}],
                                 RNN | CHAR_AND_SEQUENCE, "(the import fails in rnn_layers.py, line"),
    "hang_at_import": ([{"file": "lstm_layers.py", "find": "import numpy as np\n",
                         "replace": "import numpy as np\nwhile True:\n    pass\n"}], LSTM, "could not be imported"),
    "wrong_return_type": ([{"file": "rnn_layers.py", "find": "    return s_next, cache\n",
                            "replace": "    return 'done'\n"}],
                          {"rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"}, "should return"),
    # Endless only over more than one time step: the T = 1 tests pass, the longer ones meet the time limit, and the
    # hint for a backward right at T = 1 only (the recurrent path) is not given for a call that never returned.
    "hang_on_longer_sequences": ([{"file": "lstm_layers.py", "find": "    N, T, H = dh.shape\n    D = cache",
                                   "replace": "    N, T, H = dh.shape\n    while T > 1:\n        pass\n    D = cache"}],
                                 {"lstm_backward"}, "s; it was stopped in lstm_backward (lstm_layers.py, line"),
    "nan_output": ([{"file": "rnn_layers.py", "find": "    o = s @ V.T + c\n",
                     "replace": "    o = s @ V.T + c\n    o[0, 0, 0] = np.nan\n"}],
                   {"output_forward", "output_backward"}, "NaN"),
    # sigmoid in float32: every LSTM function that runs it loses its value tests; the right backwards keep theirs,
    # checked against the reference forward with float32's rounding allowed (test_precision.py).
    "float32_output": ([{"file": "lstm_layers.py", "find": "    return out\n",
                         "replace": "    return out.astype(np.float32)\n"}],
                       LSTM - {"lstm_step_backward", "lstm_backward"}, "float32"),
    "wrong_shape": ([{"file": "rnn_layers.py", "find": "    dc = do.sum(axis=(0, 1))\n",
                      "replace": "    dc = do.sum(axis=0)\n"}], {"output_backward"}, "shape"),
}


@pytest.fixture(scope="module")
def fast_config(tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("cfg"), limits={"call_seconds": 1.0, "import_seconds": 3.0,
                                                                 "batch_seconds": 10.0})


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_costs_only_what_it_touches(name, tmp_path, fast_config, validate_results):
    edits, broken, message = FAULTS[name]
    sub = make_submission(tmp_path / name, edits)
    # A hanging call costs its own time limit only; grade_cli's timeout is a safety net, not a measure.
    _, results = grade_cli(sub, tmp_path, "--config", str(fast_config))
    validate_results(results)
    assert lost_functions(results) == with_callers(broken)
    outputs = " ".join(t["output"] for t in results["tests"] if t["score"] == 0) + results["output"]
    assert message in outputs
    assert "Hint: right for a single time step" not in outputs  # a fault is no wrong value
    if name in ("infinite_loop", "sleep"):
        # A function that never finishes waits out its limit HANG_STRIKES times, not once per test that reaches it.
        stopped = Counter(t["name"].split(":", 1)[0] for t in results["tests"]
                          if "did not finish within the time limit" in t["output"])
        assert max(stopped.values()) <= HANG_STRIKES, stopped
    if name == "infinite_loop":
        assert ("rnn_forward was not called again: its calls so far were all stopped at the time limit of 1 s, so "
                "this one would most likely wait as long") in outputs


def test_a_hang_on_some_inputs_only_keeps_the_function_called(tmp_path, fast_config):
    """rnn_forward loops forever on one time step only: its other calls finished, so every test is still run
    (those with T > 1 pass) however many T = 1 calls time out."""
    sub = make_submission(tmp_path / "t1", [{"file": "rnn_layers.py", "find": RNN_FWD,
                                             "replace": "    while x.shape[1] == 1:\n        pass\n" + RNN_FWD}])
    _, results = grade_cli(sub, tmp_path, "--config", str(fast_config))
    forward = {t["name"]: t for t in results["tests"] if t["name"].startswith("rnn_forward:")}
    # (sample, which calls it one step at a time, hangs on every call: it is called twice)
    assert "rnn_forward was not called again" not in json.dumps(results)
    assert forward["rnn_forward: matches the reference"]["score"] > 0
    assert forward["rnn_forward: does not modify its inputs"]["score"] > 0
    assert "did not finish within the time limit" in forward["rnn_forward: a single time step (T = 1)"]["output"]


def test_printing_is_named_at_every_timeout_after_the_output_is_cut(tmp_path):
    """The capture keeps 2 MB here: the first call that prints without end fills it, and the later ones print
    only past the cap, where output is dropped but still counted: each of their timeouts names the printing."""
    config = write_config(tmp_path, limits={"call_seconds": 1.0, "import_seconds": 3.0, "batch_seconds": 10.0,
                                            "file_mb": 2})
    sub = make_submission(tmp_path / "printer", FAULTS["print_until_stopped"][0])
    _, results = grade_cli(sub, tmp_path, "--config", str(config))
    timed_out = [t["output"] for t in results["tests"]
                 if t["visibility"] == "visible" and "did not finish within the time limit" in t["output"]]
    assert len(timed_out) >= 2, results["tests"]
    assert all("printing that much is slow: remove the prints" in o for o in timed_out), timed_out
    assert "output is cut" in results["output"] and "\x00" not in results["output"]


def test_empty_submission_folder(tmp_path, validate_results):
    empty = tmp_path / "empty"
    empty.mkdir()
    _, results = grade_cli(empty, tmp_path)
    validate_results(results)
    assert results["score"] == 0
    # One note for the whole folder (a class summary counts one problem, not one per file).
    output = " ".join(results["output"].split())
    assert "the submission is empty: rnn_layers.py, lstm_layers.py, char_rnn.py" in output
    assert output.count("missing from the submission") == 1
    assert all("was not found in the submission" in t["output"] for t in results["tests"])


def test_missing_files_share_one_note(tmp_path):
    """Files plainly missing are named in one note; a misnamed file keeps its own hint; a folder holding none of
    the graded files says what it holds."""
    from conftest import FILES, SOLUTIONS

    from autograder.submissions.locate import find_files

    some = tmp_path / "some"
    some.mkdir()
    (some / "rnn_layers.py").write_text((SOLUTIONS / "rnn_layers.py").read_text())
    (some / "lstm_layer.py").write_text("")
    found, notes = find_files(some, FILES)
    assert found == ["rnn_layers.py"]
    assert notes == ["lstm_layers.py is missing; found 'lstm_layer.py' instead: rename it to 'lstm_layers.py'",
                     f"{', '.join(FILES[2:])} are missing from the submission"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("")
    assert find_files(other, FILES) == ([], [f"no graded file was found: {', '.join(FILES)} are missing from the "
                                             "submission (it holds notes.txt)"])


def test_messages_name_the_students_files_not_the_graders_folder(tmp_path):
    """A traceback and an exception's text name ``rnn_layers.py`` as the student knows it: the grader's temporary
    work folder (a random name) appears nowhere, so one bug reads the same for every student."""
    sub = make_submission(tmp_path / "raises", [
        {"file": "rnn_layers.py", "find": "    a = x_t @ U.T",
         "replace": "    open('no_such_file.npy')\n    a = x_t @ U.T"},
        {"file": "lstm_layers.py", "find": "def sigmoid(z):", "replace": "def sigmoid(z):\n    import nowhere_module"},
    ])
    _, results = grade_cli(sub, tmp_path)
    failed = [t["output"] for t in results["tests"] if t["score"] < t["max_score"]]
    text = "\n".join(failed)
    assert 'File "rnn_layers.py", line' in text and 'File "lstm_layers.py", line' in text
    assert "No such file or directory: 'no_such_file.npy'" in text
    assert "autograder_sub_" not in text and "/work/" not in text


def test_a_misnamed_file_is_offered_for_one_name_only(tmp_path):
    """Each misnamed file is advised to take the one expected name it resembles most, never two."""
    from conftest import FILES

    from autograder.submissions.locate import find_files

    one = tmp_path / "one"
    one.mkdir()
    (one / "rnn_layer.py").write_text("")  # resembles rnn_layers.py best, and lstm_layers.py too (ratio 0.69)
    (one / "README.txt").write_text("")
    assert find_files(one, FILES)[1] == [
        "rnn_layers.py is missing; found 'rnn_layer.py' instead: rename it to 'rnn_layers.py'",
        "lstm_layers.py, char_rnn.py, sequence_models.py, quiz.py are missing from the submission"]
    several = tmp_path / "several"
    several.mkdir()
    for name in ("lstm_layer.py", "rnn_layer.py", "Quiz.py", "charrnn.py"):
        (several / name).write_text("")
    renames = {note.split()[0]: note.split("'")[1] for note in find_files(several, FILES)[1] if "rename" in note}
    assert renames == {"rnn_layers.py": "rnn_layer.py", "lstm_layers.py": "lstm_layer.py", "quiz.py": "Quiz.py",
                       "char_rnn.py": "charrnn.py"}
    assert len(set(renames.values())) == len(renames)


def test_a_missing_file_imported_by_another_is_named_as_missing(tmp_path):
    """char_rnn.py imports rnn_layers: with rnn_layers.py missing, its failures say the student's file is missing,
    not that the grader's Python lacks a module."""
    sub = make_submission(tmp_path / "no_rnn")
    (sub / "rnn_layers.py").unlink()
    _, results = grade_cli(sub, tmp_path)
    outputs = [t["output"] for t in results["tests"] if t["name"].startswith(("train_char_rnn", "one_hot"))]
    assert outputs and all("rnn_layers.py, which this code imports, is missing from the submission" in o
                           for o in outputs if "No module named 'rnn_layers'" in o)
    assert any("No module named 'rnn_layers'" in o for o in outputs)
    assert "does not have rnn_layers" not in json.dumps(results)
