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

.PHONY: setup templates release demo test lint bench py310 clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

templates: setup
	$(PYTHON) -m autograder templates

# The student download: templates, handout and the public self-check (dist/student/hw_rnn.zip and hw_rnn/).
release: templates
	$(PYTHON) -m autograder release --out dist/student

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

clean:
	rm -rf build dist .pytest_cache
