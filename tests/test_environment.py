"""Environment mismatches told, not suffered: a newer Python's syntax, an older numpy's names and modules
the grader lacks are named by the grader, the self-check and the notebook checks alike."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, grade_cli, make_submission

from autograder import checks_api, environment
from autograder.environment import Environment
from autograder.integrations import notebooks
from autograder.release import selfcheck

ENV = Environment(("3.10", "3.11"), ("2.2", "2.4"), ("numpy",), True)
OWN = ["rnn_layers", "lstm_layers", "char_rnn", "sequence_models", "quiz"]
PY312 = Path.home() / ".pyenv" / "versions" / "3.12.1" / "bin" / "python"

# Valid in Python 3.12 only (PEP 701): each costs its whole file in the grader's 3.10/3.11.
NEW_FSTRINGS = {
    "same quotes inside": 'd = {"k": 1}\nx = f"{d["k"]}"\n',
    "nested f-string, same quotes": 'x = 1\ny = f"{f"{x}"}"\n',
    "backslash inside": 'a = ["p", "q"]\ny = f"{"\\n".join(a)}"\n',
    "comment inside": 'x = 1\ny = f"""{x  # the value\n}"""\n',
}
FINE_FSTRINGS = ['d = {"k": 1}\nx = f"{d[\'k\']}"\n', "x = 1\ny = f'{x!r:>10} {{x}}'\n", 'y = f"{1}" f"{2}"\n']


def _edit(find: str, replace: str, file: str = "rnn_layers.py") -> list[dict]:
    return [{"file": file, "find": find, "replace": replace}]


def _notes(results: dict) -> str:
    return results["output"]


# -- syntax --------------------------------------------------------------------------
@pytest.mark.skipif(not PY312.exists(), reason="needs Python 3.12 (pyenv) to parse 3.12-only syntax")
def test_python312_only_fstrings_are_found_under_312():
    program = ("import json, sys\nfrom autograder.environment import Environment, syntax_notes\n"
               "env = Environment(('3.10', '3.11'))\n"
               "print(json.dumps({k: syntax_notes('f.py', v, env) for k, v in json.loads(sys.stdin.read()).items()}))")
    sources = {**NEW_FSTRINGS, **{f"fine {i}": s for i, s in enumerate(FINE_FSTRINGS)},
               "type statement": "type Vector = list[float]\n"}
    proc = subprocess.run([str(PY312), "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + program],
                          input=json.dumps(sources), capture_output=True, text=True, check=True)
    found = json.loads(proc.stdout)
    for name in NEW_FSTRINGS:
        assert found[name] and "needs Python 3.12" in found[name][0] and "Python 3.10" in found[name][0], name
    for i in range(len(FINE_FSTRINGS)):
        assert found[f"fine {i}"] == []
    assert "3.12" in found["type statement"][0] and "line 1" in found["type statement"][0]


def test_syntax_newer_than_the_oldest_grader_python_is_found():
    source = "try:\n    pass\nexcept* ValueError:\n    pass\n"  # 3.11: fine here, not in Gradescope's 3.10
    notes = environment.syntax_notes("rnn_layers.py", source, ENV)
    assert notes and "rnn_layers.py line 4" in notes[0] and "Python 3.10" in notes[0]
    assert environment.syntax_notes("rnn_layers.py", source, Environment(("3.11",))) == []
    assert environment.syntax_notes("x.py", "match x:\n    case 1:\n        pass\n", ENV) == []  # 3.10 has match
    # A starred index (PEP 646, 3.11), which feature_version lets through; a tuple in parentheses is older syntax.
    for source in ("out[*idx, k] = 1.0\n", "y = a[:, *b]\n", "y = a[*b]\n", "def f(*args: *Ts):\n    pass\n"):
        notes = environment.syntax_notes("char_rnn.py", source, ENV)
        assert notes and "char_rnn.py line 1: a starred item" in notes[0] and "Python 3.10" in notes[0], source
        assert environment.syntax_notes("char_rnn.py", source, Environment(("3.11",))) == []
    for source in ("y = a[(*b, 1)]\n", "y = [*a, *b]\n", "y = a[2 * b]\n", "f(*a)\n"):
        assert environment.syntax_notes("char_rnn.py", source, ENV) == [], source


@pytest.mark.parametrize("name", sorted(NEW_FSTRINGS))
def test_the_graders_syntax_error_names_its_python(name, tmp_path):
    code = NEW_FSTRINGS[name].replace("\n", "\n    ")
    edits = _edit("    s_next = np.tanh(a)\n", f"    s_next = np.tanh(a)\n    {code}\n")
    _, results = grade_cli(make_submission(tmp_path / "s", edits), tmp_path)
    failed = [t for t in results["tests"] if t["name"].startswith("rnn_step_forward:")]
    assert failed
    for t in failed:
        assert t["score"] == 0 and "SyntaxError" in t["output"] and "runs this code" in t["output"], t["output"]
        assert "a newer Python accepts" in t["output"] and re.search(r"Python 3\.1[01]\.\d+", t["output"])


def test_a_plain_syntax_error_is_not_put_down_to_the_python_version(tmp_path):
    """An unclosed bracket is an error in every Python: no word of newer versions."""
    edits = _edit("    s_next = np.tanh(a)\n", "    s_next = np.tanh([a)\n")
    _, results = grade_cli(make_submission(tmp_path / "s", edits), tmp_path)
    failed = [t for t in results["tests"] if t["name"].startswith("rnn_step_forward:")]
    assert failed and all("SyntaxError" in t["output"] for t in failed)
    assert not any("newer Python" in t["output"] for t in results["tests"]) and "newer Python" not in results["output"]


# -- numpy ---------------------------------------------------------------------------------
def test_removed_numpy_names_match_the_installed_numpy():
    """Each listed name is gone from (or, if only deprecated, still in) a numpy at least as new as the entry."""
    installed = tuple(int(p) for p in np.__version__.split(".")[:2])
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (version, _) in environment.REMOVED_NUMPY.items():
            if installed >= tuple(int(p) for p in version.split(".")):
                assert hasattr(np, name) == (name in environment.DEPRECATED_ONLY), name
                checked += 1
    assert checked > 30


@pytest.mark.parametrize(("code", "name", "instead"), [
    ("x = -np.Inf", "np.Inf", "np.inf"), ("y = np.NaN", "np.NaN", "np.nan"),
    ("z = np.zeros(3, dtype=np.float_)", "np.float_", "np.float64"),
    ("p = np.product([1, 2])", "np.product", "np.prod"),
    ("t = numpy.trapz([1.0, 2.0])", "numpy.trapz", "np.trapezoid"),
    ("a = np.alltrue([True])", "np.alltrue", "np.all"),
])
def test_removed_numpy_names_are_named(code, name, instead):
    source = f"import numpy as np\nimport numpy\n\n\ndef f():\n    {code}\n"
    notes = environment.removed_numpy_notes("rnn_layers.py", source, ENV)
    assert len(notes) == 1 and name in notes[0] and instead in notes[0] and "line 6" in notes[0], notes
    assert environment.removed_numpy_notes("x.py", "import numpy as np\nx = np.inf\n", ENV) == []
    assert "np.Inf" not in str(environment.removed_numpy_notes("x.py", "Inf = 1\nx = Inf\n", ENV))


def test_numpy_and_python_version_notes():
    assert environment.numpy_notes(ENV, "2.4.6") == [] and environment.numpy_notes(ENV, "2.2.6") == []
    old = environment.numpy_notes(ENV, "1.26.4")
    assert old and "numpy 1.26.4" in old[0] and "major version" in old[0] and "np.Inf" in old[0]
    assert "differ slightly" in environment.numpy_notes(ENV, "2.3.1")[0]
    assert environment.python_notes(ENV, (3, 11)) == []
    assert "newer than the grader's" in environment.python_notes(ENV, (3, 12))[0]
    assert "not one the grader runs" in environment.python_notes(Environment(("3.11",)), (3, 10))[0]


def test_the_configs_versions_agree_with_the_requirements(config):
    pins = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln.startswith("numpy==")]
    assert sorted({".".join(p.split("==")[1].split(";")[0].split(".")[:2]) for p in pins}) == sorted(
        config.environment.numpys)
    assert "3.10" in config.environment.pythons  # Gradescope's image (gradescope/setup.sh)
    assert "Python 3.10" in (ROOT / "gradescope" / "setup.sh").read_text()


# -- imports ---------------------------------------------------------------------------------
IMPORTS = {
    "import matplotlib.pyplot as plt\n": "matplotlib.pyplot",
    "from scipy.special import expit\n": "scipy.special",
    "import torch\n": "torch",
    "def helper():\n    import pandas\n    return pandas\n": "pandas",
}


@pytest.mark.parametrize("code", sorted(IMPORTS))
def test_imports_outside_the_allowed_list_are_named(code):
    notes = environment.import_notes("lstm_layers.py", "import numpy as np\nimport os\n" + code, ENV, OWN)
    assert len(notes) == 1 and IMPORTS[code] in notes[0], notes
    assert "numpy and the standard library" in notes[0] and "does not have" in notes[0]
    fine = "import numpy as np\nimport math, os.path\nfrom collections import deque\nfrom rnn_layers import x\n"
    assert environment.import_notes("char_rnn.py", fine, ENV, OWN) == []


def test_the_grader_notes_a_module_it_lacks(tmp_path):
    edits = _edit("import numpy as np\n", "import numpy as np\nimport matplotlib.pyplot as plt\n", "lstm_layers.py")
    _, results = grade_cli(make_submission(tmp_path / "plt", edits), tmp_path)
    assert "lstm_layers.py line" in _notes(results) and "imports matplotlib.pyplot" in _notes(results)
    lost = [t for t in results["tests"] if t["name"].startswith("sigmoid:") and t["score"] == 0]
    assert lost and all("the grader's Python does not have matplotlib" in t["output"] for t in lost)


def test_config_validates_the_environment(tmp_path):
    from test_config import _broken

    assert "grader.python" in _broken(tmp_path, lambda r: r.update(grader={"python": [3.1]}))
    assert "grader: unknown keys ['pandas']" in _broken(tmp_path, lambda r: r.update(grader={"pandas": []}))
    assert "allowed_imports.modules" in _broken(tmp_path, lambda r: r.update(allowed_imports={"modules": ["a b"]}))
    assert "allowed_imports: unknown keys" in _broken(
        tmp_path, lambda r: r.update(allowed_imports={"modules": [], "stdlib": True}))


# -- the notebook checks ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def checks(tmp_path_factory, config):
    root = tmp_path_factory.mktemp("checks")
    notebooks.write_checks(root / "hw_rnn_checks", config, public_only=True)
    return root / "hw_rnn_checks"


def _cells(monkeypatch, checks: Path) -> dict:
    monkeypatch.setenv("AUTOGRADER_CHECKS", str(checks))
    files = selfcheck.load(checks)[0].files
    for name in files:
        monkeypatch.setitem(sys.modules, name[:-3], None)
    return notebooks.run_as_cells(ROOT / "solutions" / "hw_rnn", files)


def _cell(namespace: dict, source: str, path: Path) -> None:
    """Run source as a notebook cell would: in the namespace, its source findable by inspect."""
    path.write_text(source)
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102


def test_notebook_checks_fail_first_on_a_module_the_grader_lacks(checks, monkeypatch, tmp_path):
    namespace = _cells(monkeypatch, checks)
    namespace["_reference_rnn_forward"] = namespace["rnn_forward"]
    plt = types.ModuleType("matplotlib.pyplot")
    plt.plot = lambda *a: None
    namespace["plt"] = plt  # as `import matplotlib.pyplot as plt` in another cell leaves it
    namespace["expit"] = types.SimpleNamespace(__module__="scipy.special")
    _cell(namespace, "def rnn_forward(x, s0, U, W, b):\n    plt.plot(x[0])\n"
                     "    return _reference_rnn_forward(x, s0, U, W, b)\n", tmp_path / "a.py")
    with pytest.raises(checks_api.CheckFailed, match=r"rnn_forward uses plt, from matplotlib\.pyplot: graded code "
                                                     r"may import only numpy and the standard library"):
        checks_api.run_test("rnn_forward", "matches the reference", namespace)
    _cell(namespace, "def rnn_step_forward(x_t, s_prev, U, W, b):\n    return expit(x_t), None\n", tmp_path / "b.py")
    with pytest.raises(checks_api.CheckFailed, match="uses expit, from scipy.special"):
        checks_api.run_test("rnn_step_forward", "matches the reference", namespace)
    # A backward's gradient checks run its forward: a forward using scipy fails them first too.
    with pytest.raises(checks_api.CheckFailed, match="scipy"):
        checks_api.run_test("rnn_step_backward", "gradients match the reference", namespace)
    # Allowed modules pass: the reference's own cells use numpy only.
    checks_api.run_test("sigmoid", "matches the reference", namespace)


def test_notebook_checks_name_removed_numpy_names(checks, monkeypatch, tmp_path):
    namespace = _cells(monkeypatch, checks)
    _cell(namespace, "def sigmoid(x):\n    big = np.Inf\n    return 1 / (1 + np.exp(-np.clip(x, -big, big)))\n",
          tmp_path / "cell.py")
    with pytest.raises(checks_api.CheckFailed, match=r"sigmoid: np\.Inf was removed in numpy 2\.0"):
        checks_api.run_test("sigmoid", "matches the reference", namespace)


# -- the self-check under another Python or numpy ----------------------------------------------
def _venv(name: str, base: str, requirement: str) -> str:
    venv = ROOT / "build" / name
    python = venv / "bin" / "python"
    stamp = venv / "requirement.txt"
    if not (python.exists() and stamp.exists() and stamp.read_text() == requirement):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True)
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            pytest.skip(f"could not install {requirement} in a venv (no package index?): {proc.stderr[-500:]}")
        stamp.write_text(requirement)
    return str(python)


@pytest.fixture(scope="module")
def bundle(release_bundle, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    with zipfile.ZipFile(release_bundle) as z:
        z.extractall(out)
    return out / "hw_rnn"


def _self_check(python: str, bundle: Path, folder: Path) -> str:
    proc = subprocess.run([python, str(bundle / "check.py"), str(folder)], capture_output=True, text=True,
                          cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_self_check_under_numpy_1_names_removed_names(bundle, tmp_path):
    python = _venv("venv-numpy-1.26", sys.executable, "numpy==1.26.4")
    edits = _edit("    shifted = o - o.max(axis=-1, keepdims=True)\n",
                  "    shifted = o - o.max(axis=-1, keepdims=True, initial=-np.Inf)\n")
    folder = make_submission(tmp_path / "inf", edits)
    out = _self_check(python, bundle, folder)
    assert "you run numpy 1.26.4, the grader numpy 2.2, 2.4" in out
    assert "rnn_layers.py line" in out and "np.Inf was removed in numpy 2.0" in out and "use np.inf" in out
    # The grader's numpy fails that code: the note told the truth.
    _, results = grade_cli(folder, tmp_path)
    assert any(t["score"] == 0 for t in results["tests"] if t["name"].startswith("softmax_cross_entropy:"))


@pytest.mark.skipif(not PY312.exists(), reason="needs Python 3.12 (pyenv) to run the self-check under it")
def test_self_check_under_python_312_names_syntax_the_grader_cannot_parse(bundle, tmp_path):
    pin = next(ln for ln in (bundle / "requirements.txt").read_text().splitlines() if ">=" in ln and "numpy" in ln)
    python = _venv("venv-numpy-py312", str(PY312), pin.split(";")[0])
    edits = _edit("    s_next = np.tanh(a)\n", "    s_next = np.tanh(a)\n    d = {'k': 1}\n    _ = f'{d['k']}'\n")
    out = _self_check(python, bundle, make_submission(tmp_path / "f", edits))
    assert "you run Python 3.12, newer than the grader's (3.10, 3.11)" in out
    assert "rnn_layers.py line" in out and "needs Python 3.12" in out
    assert "[PASS] matches the reference" in out  # Python 3.12 runs it: only the note warns
