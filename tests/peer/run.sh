#!/bin/sh
# ctest's peer tests (label peer): a script of tests/peer under the pinned
# peer (.venv-peer, experiments/bench/requirements-peer.txt), skipped (77)
# without it.
#   tests/peer/run.sh SCRIPT.py SOURCE_DIR NORMLAB
PY=${NORMLAB_PEER_PYTHON:-$2/.venv-peer/bin/python}
if [ ! -x "$PY" ]; then
    echo "skipped: no $PY (the pinned peer: python3 -m venv .venv-peer &&" \
         ".venv-peer/bin/pip install -r experiments/bench/requirements-peer.txt)"
    exit 77
fi
exec "$PY" "$2/tests/peer/$1" "$2" "$3"
