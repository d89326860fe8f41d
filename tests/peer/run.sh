#!/bin/sh
# ctest peer_compile_matches_eager (labels peer, long): needs the pinned peer
# (.venv-peer, experiments/bench/requirements-peer.txt), skipped without it.
#   tests/peer/compile_matches_eager.sh SOURCE_DIR NORMLAB
PY=${NORMLAB_PEER_PYTHON:-$1/.venv-peer/bin/python}
if [ ! -x "$PY" ]; then
    echo "skipped: no $PY (the pinned peer: python3 -m venv .venv-peer &&" \
         ".venv-peer/bin/pip install -r experiments/bench/requirements-peer.txt)"
    exit 77
fi
exec "$PY" "$1/tests/peer/compile_matches_eager.py" "$1" "$2"
