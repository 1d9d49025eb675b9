#!/usr/bin/env bash
# The full suite on N fresh clones of this repository's HEAD, one after another (default 10):
# what .ci/run checks (every test with GSPMC_REQUIRE_DATA=1, and ruff, reported apart), each in a new
# `git clone` with no caches, no run folders and no files left by earlier runs.
#
#   bash bench/fresh_clones.sh [N]        # prints one line per clone and a summary; logs in $OUT
#   COMMIT=abc1234 bash bench/fresh_clones.sh   # another commit (default: HEAD when it starts)
#
# The Python environment is the one `make install` built in this checkout (.venv, or VENV=...):
# installing it again per clone would test pip, not gspmc. Each clone's own src/ is put first on
# PYTHONPATH (the venv's editable install only appends this checkout's src/ after it), and every log
# records which gspmc the clone imported, so the clone's code is what runs.
set -uo pipefail
N=${1:-10}
REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$REPO/.venv}
DATA=${GSPMC_DATA:-$(cd "$REPO/../shared/data" 2>/dev/null && pwd)}
OUT=${OUT:-$(mktemp -d /tmp/gspmc-fresh-clones.XXXXXX)}
COMMIT=${COMMIT:-$(git -C "$REPO" rev-parse --short HEAD)}
echo "fresh clones of $COMMIT ($N runs), data $DATA, logs in $OUT"
passed=0
linted=0
for i in $(seq 1 "$N"); do
    clone="$OUT/clone$i"
    # the same commit every time (others may commit to main while this runs)
    { git clone -q "$REPO" "$clone" && git -C "$clone" checkout -q "$COMMIT"; } ||
        { echo "clone $i: git clone failed"; continue; }
    start=$(date +%s)
    (cd "$clone" && "$VENV/bin/ruff" check -q src tests bench) > "$OUT/clone$i.ruff.log" 2>&1
    lint=$?
    (
        cd "$clone" || exit 1
        export PYTHONPATH="$clone/src" GSPMC_DATA="$DATA" GSPMC_REQUIRE_DATA=1
        "$VENV/bin/python" -c "import gspmc, sys; print('gspmc from', gspmc.__file__); sys.exit(not gspmc.__file__.startswith('$clone/'))" &&
        "$VENV/bin/python" -m pytest -q -p no:cacheprovider
    ) > "$OUT/clone$i.log" 2>&1
    rc=$?
    summary=$(grep -E "^[0-9]+ (passed|failed)|(passed|failed).* in [0-9.]+s" "$OUT/clone$i.log" | tail -1)
    echo "clone $i: suite exit $rc, $(( $(date +%s) - start )) s: ${summary:-no pytest summary (see $OUT/clone$i.log)}; ruff exit $lint"
    [ "$rc" -eq 0 ] && passed=$((passed + 1))
    [ "$lint" -eq 0 ] && linted=$((linted + 1))
    rm -rf "$clone"
done
echo "ruff clean on $linted/$N"
echo "failed tests (count over the $N runs):"
grep -h "^FAILED\|^ERROR" "$OUT"/clone*.log 2>/dev/null | sed 's/ - .*//' | sort | uniq -c || true
echo "$passed/$N fresh clones green (commit $COMMIT, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$passed" -eq "$N" ]
