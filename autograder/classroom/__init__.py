"""The class: grade-all and its workers, the gradebook (overrides, grades.csv), item analysis, clusters of
common mistakes and comments, similarity, feedback, regrade previews."""
