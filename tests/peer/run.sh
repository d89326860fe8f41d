#!/bin/sh
# ctest's peer tests (label peer): a script of tests/peer under the pinned
# peer (.venv-peer, experiments/bench/requirements-peer.txt), skipped (77)
# without it.
#   tests/peer/run.sh SCRIPT.py SOURCE_DIR NORMLAB [ARGS...]
PY=${NORMLAB_PEER_PYTHON:-$2/.venv-peer/bin/python}
if [ ! -x "$PY" ]; then
    echo "skipped: no $PY (the pinned peer: python3 -m venv .venv-peer &&" \
         ".venv-peer/bin/pip install -r experiments/bench/requirements-peer.txt)"
    exit 77
fi
script=$1
shift
exec "$PY" "$1/tests/peer/$script" "$@"
