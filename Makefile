# Two commands to know: `make demo` (set up, grade the reference and the templates)
# and `make test` (the toolkit's own tests).  Everything runs from a local .venv.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
# A Python 3.10 (Gradescope's default image) for the compatibility test, when one exists.
# (pyenv's shims answer `command -v` without running, so each candidate must run.)
PY310 ?= $(shell for p in $$HOME/.pyenv/versions/3.10*/bin/python3.10 $$(command -v python3.10); do \
  "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV310 ?= .venv310
# The assignment every target works on (assignments/$(ASSIGNMENT)/assignment.yaml): make release ASSIGNMENT=hw_seq2seq.
ASSIGNMENT ?= $(shell head -n 1 assignments/DEFAULT)
AS := --assignment $(ASSIGNMENT)

# As root, student code runs as an unprivileged uid (docs/security.md): it needs a Python that
# other users can run, and the checkout (which holds the reference solution) must be private.
CHILD_VENV ?= /opt/hw_rnn_child
ifeq ($(shell id -u),0)
ROOT_MODE := root-mode
export AUTOGRADER_CHILD_PYTHON ?= $(CHILD_VENV)/bin/python
endif

.PHONY: setup setup-grading templates release demo class-demo test lint bench py310 clean child-python root-mode gradescope \
	bench-gradescope notebooks otter nbgrader bench-tools parity

# Two set-ups: what grading needs (requirements.txt: numpy, PyYAML, nbformat) for `demo`, `templates`,
# `release` and `gradescope`; everything (requirements-dev.txt: the tests, otter-grader, nbgrader, Jupyter,
# ruff, the batch tools) for `test`, the notebook tools and the benches.
setup-grading: $(VENV)/.grading

$(VENV)/.grading: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-batch.txt \
		requirements-notebooks.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.grading $@

child-python: $(CHILD_VENV)/.installed

$(CHILD_VENV)/.installed: requirements.txt
	/usr/bin/python3 -m venv $(CHILD_VENV)
	$(CHILD_VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	chmod -R go+rX $(CHILD_VENV)
	touch $@

root-mode: child-python
	chmod go-rwx .

templates: setup-grading
	$(PYTHON) -m autograder templates $(AS)

# The student download: templates, handout and the public self-check (dist/student/$(ASSIGNMENT).zip and folder).
release: templates
	$(PYTHON) -m autograder release $(AS) --out dist/student

demo: setup-grading $(ROOT_MODE)
	@echo "== grading the reference solution (solutions/$(ASSIGNMENT)) =="
	$(PYTHON) -m autograder grade solutions/$(ASSIGNMENT) $(AS) --results build/demo/reference.json
	@echo
	@echo "== grading the untouched student templates (student_templates/$(ASSIGNMENT)) =="
	$(PYTHON) -m autograder grade student_templates/$(ASSIGNMENT) $(AS) --results build/demo/templates.json --quiet
	@$(PYTHON) -c "import json; d = json.load(open('build/demo/templates.json')); print('templates score:', d['score'], 'of', sum(t['max_score'] for t in d['tests']))"
	@echo "results.json files are in build/demo/"

lint: setup
	$(PYTHON) -m ruff check .

py310:
	@if [ -n "$(PY310)" ]; then \
	  [ -x $(VENV310)/bin/python ] || $(PY310) -m venv $(VENV310); \
	  $(VENV310)/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-notebooks.txt; \
	else echo "no Python 3.10 found: the 3.10 compatibility test will be skipped"; fi

# Two workers (--dist loadgroup: a module's tests marked with one xdist_group share a worker and its
# module fixtures); the 15 slowest tests are listed.  pytest's "no tests ran" (exit 5) fails like any error.
PYTEST_WORKERS ?= 2
test: setup lint py310 $(ROOT_MODE)
	HW_PY310=$$( [ -x $(VENV310)/bin/python ] && echo $(abspath $(VENV310))/bin/python ) $(PYTHON) -m pytest \
	  -n $(PYTEST_WORKERS) --dist loadgroup --durations=15 $(PYTEST_ARGS)

# BENCH_QUICK=1: a few repeats and a class of 60 instead of 1,000; BENCH_BASELINE=COMMIT: "before" is that
# commit's grader, timed in the same run.
bench: setup $(ROOT_MODE)
	$(PYTHON) bench/bench_grade.py $(if $(BENCH_QUICK),--repeat 3) $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))
	BENCH_QUICK=$(BENCH_QUICK) $(PYTHON) bench/bench_batch.py

# A class of 40 generated submissions graded with grade-all into build/class-demo/graded.
class-demo: setup $(ROOT_MODE)
	rm -rf build/class-demo
	$(PYTHON) bench/bench_batch.py --generate build/class-demo/submissions --n 40
	$(PYTHON) -m autograder grade-all build/class-demo/submissions --out build/class-demo/graded

# The zip to upload to Gradescope (README: "Gradescope").
gradescope: setup-grading
	$(PYTHON) -m autograder.integrations.gradescope build $(AS) --out dist/autograder.zip

bench-gradescope: setup $(ROOT_MODE)
	$(PYTHON) bench/bench_gradescope.py

# The otter-grader master notebook and the nbgrader source notebook, from the solutions,
# assignment.yaml and assignments/$(ASSIGNMENT)/notebook.md (a test fails when they are stale).
notebooks: setup
	$(PYTHON) -m autograder.integrations.notebooks $(AS) write

# nbgrader runs `alembic` by name: the venv's bin goes first on PATH.
TOOLS_PATH := PATH=$(abspath $(BIN)):$$PATH

# otter-grader: the student folder and Gradescope's autograder zip, in build/otter/dist.
otter: setup
	rm -rf build/otter
	$(PYTHON) -m autograder.integrations.notebooks $(AS) stage-otter build/otter/src
	cd build/otter && $(TOOLS_PATH) otter assign src/$(ASSIGNMENT).ipynb dist
	@echo "students get build/otter/dist/student/; the Gradescope zip is build/otter/dist/autograder/*.zip"

# nbgrader: a course folder, build/nbgrader, with the assignment generated (release/$(ASSIGNMENT)).
# A course folder that holds students' work is never removed by a rebuild or a clean.
KEEP_COURSE = @for d in submitted autograded feedback; do if [ -e build/nbgrader/$$d ]; then \
	echo "build/nbgrader holds students' work (build/nbgrader/$$d): not removed. Move the course out of build/" \
	"(or remove it yourself), then run this again." >&2; exit 1; fi; done

nbgrader: setup
	$(KEEP_COURSE)
	rm -rf build/nbgrader
	$(PYTHON) -m autograder.integrations.notebooks $(AS) stage-nbgrader build/nbgrader
	cd build/nbgrader && $(TOOLS_PATH) nbgrader generate_assignment $(ASSIGNMENT)
	@echo "course folder: build/nbgrader; students get build/nbgrader/release/$(ASSIGNMENT)/"

bench-tools: setup
	$(PYTHON) bench/bench_tools.py

# Every notebook shape of tests/notebook_shapes.py, more hw_rnn mutants, a quiz that spins forever and every
# hw_seq2seq mutant through otter-grader and nbgrader too (make test takes one or more per kind: README, "The
# toolkit's tests").
parity: setup $(ROOT_MODE)
	HW_PARITY_ALL=1 $(PYTHON) -m pytest tests/test_tool_parity.py tests/test_notebook_shapes.py tests/test_seq2seq_parity.py

clean:
	$(KEEP_COURSE)
	rm -rf build dist .pytest_cache
