"""The reference solution is checked independently of the grader's own numerics.

Every backward function is compared with a plain central-difference gradient of
its forward (written out here, not taken from autograder.grading.gradcheck), on every
coordinate, for many seeds and shapes; then the grader's gradcheck module is
itself shown to accept correct and reject wrong gradients.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from conftest import CONFIG, HOMEWORK
from numeric import numeric_gradient, rel_error

from autograder.config import command_config
from autograder.grading import gradcheck
from autograder.grading.grader import load_reference
from autograder.sandbox.child import evaluate_many
from autograder.spec import named_outputs, upstream_gradients

FUNCTIONS, GRADIENTS, forward_inputs = HOMEWORK.functions, HOMEWORK.gradients, HOMEWORK.forward_inputs

REF = load_reference(command_config(str(CONFIG)))


def ref(name):
    return getattr(REF[FUNCTIONS[name].module], name)


SHAPES = [dict(N=1, T=1, D=2, H=3, K=4), dict(N=2, T=3, D=4, H=5, K=6), dict(N=3, T=5, D=2, H=4, K=3),
          dict(N=4, T=2, D=5, H=2, K=7)]


@pytest.mark.parametrize("backward", sorted(GRADIENTS))
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N{N}T{T}D{D}H{H}K{K}".format(**s))
def test_reference_backward_is_the_derivative_of_its_forward(backward, seed, shape):
    g = GRADIENTS[backward]
    case = {"seed": 1000 + seed, **shape, "mask": "lengths"}
    inputs = forward_inputs(g.forward, case)
    fwd = FUNCTIONS[g.forward]
    values = inputs.values
    out = named_outputs(fwd, ref(g.forward)(**copy.deepcopy(values)))
    up = upstream_gradients(g, out, case)

    def loss():
        o = named_outputs(fwd, ref(g.forward)(**values))
        if g.scalar:
            return o[g.scalar]
        return sum(np.sum(o[n] * up[n]) for n in g.upstream)

    if g.scalar:
        analytic = {g.grads[0]: out[g.grads[0]]}
    else:
        result = ref(backward)(*[up[n] for n in g.upstream], out["cache"])
        analytic = named_outputs(FUNCTIONS[backward], result)
    for grad_name, arg_name in zip(g.grads, g.wrt):
        got = analytic[grad_name]
        if isinstance(values[arg_name], dict):
            for key, arr in values[arg_name].items():
                assert rel_error(got[key], numeric_gradient(loss, arr)) < 1e-6, (grad_name, key)
        else:
            assert rel_error(got, numeric_gradient(loss, values[arg_name])) < 1e-6, grad_name


def test_softmax_is_stable_and_masks():
    f = ref("softmax_cross_entropy")
    o = np.array([[[1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0]]])
    y = np.array([[0, 2]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, do = f(o, y)
        masked, do_masked = f(o, y, np.array([[True, False]]))
    assert np.isclose(loss, np.log(3.0))  # first step contributes ~0
    assert np.isclose(masked, 0.0) and not do_masked[0, 1].any()
    loss_all_off, do_off = f(o, y, np.zeros((1, 2), dtype=bool))
    assert loss_all_off == 0.0 and not do_off.any()


def test_sigmoid_extremes_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ref("sigmoid")(np.array([-1000.0, 0.0, 1000.0]))
    assert np.array_equal(out, [0.0, 0.5, 1.0])


def test_clip_gradients_semantics():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}
    before = copy.deepcopy(grads)
    clipped, norm = ref("clip_gradients")(grads, 1.0)
    assert norm == 5.0
    assert np.allclose(clipped["a"], [0.6, 0.0]) and np.allclose(clipped["b"], [[0.0, 0.8]])
    assert all(np.array_equal(grads[k], before[k]) for k in grads)
    same, norm2 = ref("clip_gradients")(grads, 10.0)
    assert norm2 == 5.0 and all(np.array_equal(same[k], grads[k]) for k in grads)


def _rnn_backward_setup():
    g = GRADIENTS["rnn_backward"]
    case = {"seed": 5, "N": 2, "T": 3, "D": 4, "H": 5}
    fwd = FUNCTIONS["rnn_forward"]
    args, kwargs = forward_inputs("rnn_forward", case).call_args()
    out = named_outputs(fwd, ref("rnn_forward")(*copy.deepcopy(args)))
    up = upstream_gradients(g, out, case)
    grads = named_outputs(FUNCTIONS["rnn_backward"], ref("rnn_backward")(up["s"], out["cache"]))
    items = gradcheck.targets(args, list(fwd.args), g.wrt, g.grads)
    return args, kwargs, up, grads, items


def _losses(args, kwargs, up, plans) -> np.ndarray:
    values = evaluate_many(ref("rnn_forward"), args, kwargs, [p.wire() for p in plans], [0])
    return gradcheck.losses([np.stack([v[0] for v in values])], [up["s"]], False)


@pytest.mark.parametrize("full_max", [10_000, 1], ids=["all-coordinates", "directions"])
def test_grader_gradcheck_accepts_right_and_rejects_wrong(full_max):
    args, kwargs, up, grads, items = _rnn_backward_setup()
    plans = gradcheck.plan(items, 1e-5, full_max, 4, 5)
    losses = _losses(args, kwargs, up, plans)
    start = 0
    for p in plans:
        n = p.evaluations
        numeric = gradcheck.numerical(p, losses[start:start + n], 1e-5)
        start += n
        right = grads[p.target.label]
        wrong = right * 1.01
        if p.mode == "full":
            assert rel_error(right, numeric) < 1e-7
            assert rel_error(wrong, numeric) > 1e-3
        else:
            assert rel_error(gradcheck.analytic_directional(p, right), numeric) < 1e-7
            assert rel_error(gradcheck.analytic_directional(p, wrong), numeric) > 1e-3


@pytest.mark.parametrize("seed", range(6))
def test_quick_joint_check_accepts_right_and_rejects_any_one_array_wrong(seed):
    """Every array moves at once along each joint direction: right gradients agree to 1e-7; a 1% error in any
    single array, even the smallest (db, 5 entries of 61), shows."""
    args, kwargs, up, grads, items = _rnn_backward_setup()
    quick = gradcheck.quick_plan(items, 1e-5, 4, seed)
    assert quick.evaluations == 2 * gradcheck.QUICK_DIRECTIONS * 4 and len(quick.targets) == len(items) == 5
    numeric = gradcheck.numerical(quick, _losses(args, kwargs, up, [quick]), 1e-5)
    right = [grads[t.label] for t in quick.targets]
    assert rel_error(quick.analytic(right), numeric) < 1e-7
    for k in range(len(right)):
        wrong = [g * 1.01 if i == k else g for i, g in enumerate(right)]
        assert np.max(np.abs(quick.analytic(wrong) - numeric)) > 1e-4 * np.max(np.abs(numeric)), items[k].label
