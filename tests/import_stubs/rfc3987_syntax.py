"""Hides rfc3987-syntax from the test run: tests/conftest.py puts this folder first on PYTHONPATH.

jsonschema imports rfc3987_syntax when it is installed (jupyter-events asks for ``jsonschema[format-nongpl]``,
which brings it into the dev venv), and that import compiles 38 Lark grammars: about 1.2 s of CPU in every
process that imports nbformat, otter, nbgrader or nbconvert, hundreds of them in `make test`.  jsonschema takes
an ImportError here as the package being absent (its "iri" format checks then go unchecked): no test checks
formats, and the grader's own requirements (requirements.txt: nbformat, hence jsonschema without extras) never
install the package, so a graded notebook is read as on Gradescope.
"""

raise ImportError("rfc3987_syntax is hidden from the tests' processes (tests/import_stubs/rfc3987_syntax.py)")
