"""An autograder for numpy homework: the engine; each assignment lives in assignments/NAME/ (see README.md)."""
