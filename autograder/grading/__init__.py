"""Grading: the flow (grader), comparisons, numerical gradients, hints, recorded reference values, results.json."""
