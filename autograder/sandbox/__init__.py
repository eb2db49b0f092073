"""The sandbox: the child process that runs student code (child), the wire between them, the student's uid
and Landlock, and the in-process boxes of the self-check and the notebook checks."""
