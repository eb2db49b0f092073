"""Integrations: the Gradescope autograder zip, and the otter-grader and nbgrader notebooks."""
