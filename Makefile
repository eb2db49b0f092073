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

.PHONY: setup templates demo test lint bench py310 clean notebooks otter nbgrader bench-tools

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-notebooks.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

templates: setup
	$(PYTHON) -m autograder templates

demo: setup
	@echo "== grading the reference solution (solutions/hw_rnn) =="
	$(PYTHON) -m autograder grade solutions/hw_rnn --results build/demo/reference.json
	@echo
	@echo "== grading the untouched student templates (student_templates/hw_rnn) =="
	$(PYTHON) -m autograder grade student_templates/hw_rnn --results build/demo/templates.json --quiet
	@$(PYTHON) -c "import json; d = json.load(open('build/demo/templates.json')); print('templates score:', d['score'], 'of', sum(t['max_score'] for t in d['tests']))"
	@echo "results.json files are in build/demo/"

lint: setup
	$(PYTHON) -m ruff check .

py310:
	@if [ -n "$(PY310)" ]; then \
	  [ -x $(VENV310)/bin/python ] || $(PY310) -m venv $(VENV310); \
	  $(VENV310)/bin/pip install -q --disable-pip-version-check -r requirements.txt; \
	else echo "no Python 3.10 found: the 3.10 compatibility test will be skipped"; fi

test: setup lint py310
	HW_PY310=$$( [ -x $(VENV310)/bin/python ] && echo $(abspath $(VENV310))/bin/python ) $(PYTHON) -m pytest

bench: setup
	$(PYTHON) bench/bench_grade.py

# The otter-grader master notebook and the nbgrader source notebook, from the solutions,
# assignment.yaml and assignments/hw_rnn/notebook.md (a test fails when they are stale).
notebooks: setup
	$(PYTHON) -m autograder.notebooks write

# nbgrader runs `alembic` by name: the venv's bin goes first on PATH.
TOOLS_PATH := PATH=$(abspath $(BIN)):$$PATH

# otter-grader: the student folder and Gradescope's autograder zip, in build/otter/dist.
otter: setup
	rm -rf build/otter
	$(PYTHON) -m autograder.notebooks stage-otter build/otter/src
	cd build/otter && $(TOOLS_PATH) otter assign src/hw_rnn.ipynb dist
	@echo "students get build/otter/dist/student/; the Gradescope zip is build/otter/dist/autograder/*.zip"

# nbgrader: a course folder, build/nbgrader, with the assignment generated (release/hw_rnn).
nbgrader: setup
	rm -rf build/nbgrader
	$(PYTHON) -m autograder.notebooks stage-nbgrader build/nbgrader
	cd build/nbgrader && $(TOOLS_PATH) nbgrader generate_assignment hw_rnn
	@echo "course folder: build/nbgrader; students get build/nbgrader/release/hw_rnn/"

bench-tools: setup
	$(PYTHON) bench/bench_tools.py

clean:
	rm -rf build dist .pytest_cache
