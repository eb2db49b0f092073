#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu 22.04, Python 3.10).
# AUTOGRADER_PYTHON names the interpreter to install into (default /usr/bin/python3, the one run_autograder uses).
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${AUTOGRADER_PYTHON:-/usr/bin/python3}"

# Student code runs as another user and imports numpy from what pip installs: keep it readable by all.
umask 022
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pip
fi
"$PYTHON" -m pip install --disable-pip-version-check --no-input -r "$SOURCE/requirements.txt"

# The reference solution and the config of the hidden tests: for root only, never for student code.
chmod -R go-rwx "$SOURCE"

# Grade the reference solution exactly as run_autograder grades a student: no image unless it gets full marks.
cd "$SOURCE"
"$PYTHON" -m autograder.integrations.gradescope selftest
