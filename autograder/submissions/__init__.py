"""Submissions: finding a student's work in a folder, zip or notebook (locate), reading notebooks as a kernel runs
them (extract, notebook_kernel), and class downloads from each platform (layouts)."""

# The class downloads ``layouts`` reads, and which of a student's attempts it takes: here, so that the command
# line can offer them without importing layouts (and YAML) on the path of a single ``grade``.
LAYOUTS = ("folders", "gradescope", "nbgrader", "canvas", "moodle", "blackboard")
ATTEMPTS = ("latest", "first")
