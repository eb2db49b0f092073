import os

# The grader's arrays are small: one BLAS thread is fastest, and idle BLAS threads would spin on the cores the
# student's child needs.  Set before numpy is imported; an explicit setting wins.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import sys  # noqa: E402

from autograder.sandbox.program import CHILD_COMMANDS, prestart_child  # noqa: E402 -- light: no numpy

if sys.argv[1:2] and sys.argv[1] in CHILD_COMMANDS:
    prestart_child()  # the fork server's Python and numpy load while this process imports the grader

from autograder import finish  # noqa: E402
from autograder.cli import main  # noqa: E402 -- after the thread settings, which numpy reads when imported

finish(main())
