"""The student release: templates generated from the solutions, the bundle and its public self-check."""
