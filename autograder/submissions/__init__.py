"""Submissions: finding a student's work in a folder, zip or notebook (locate), reading notebooks as a kernel runs
them (extract, notebook_kernel), and class downloads from each platform (layouts)."""
