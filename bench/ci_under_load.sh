#!/usr/bin/env bash
# The suite green under load (issue 19, point 6), as CI runs it: N fresh clones of one commit, each with a
# copy of shared/ beside it (a symlink here), each running `bash .ci/run` from scratch (new .venv, lint, the
# README's test command, the wheel check) with CI=true and no standard input, one after another, while
# two busy loops (one per core) run beside them. Then, optionally, the describe interrupt tests M times.
#
#   bash bench/ci_under_load.sh [N] [M]          # default 5 clones, 0 interrupt runs; logs in $OUT
#   COMMIT=abc1234 bash bench/ci_under_load.sh   # another commit (default: HEAD when it starts)
set -uo pipefail
N=${1:-5}
M=${2:-0}
REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$(cd "$REPO/../shared" && pwd)}
OUT=${OUT:-$(mktemp -d /tmp/gspmc-ci-load.XXXXXX)}
COMMIT=${COMMIT:-$(git -C "$REPO" rev-parse --short HEAD)}
busy() { python3 -c "while True: pass" > /dev/null 2>&1 & echo $!; }
b1=$(busy); b2=$(busy)
trap 'kill $b1 $b2 2>/dev/null' EXIT
echo "commit $COMMIT: $N fresh clones running bash .ci/run, two busy loops beside them; logs in $OUT"
green=0
for i in $(seq 1 "$N"); do
    dir="$OUT/ci$i"
    mkdir -p "$dir"
    ln -sfn "$SHARED" "$dir/shared"
    git clone -q "$REPO" "$dir/main" && git -C "$dir/main" checkout -q "$COMMIT" || { echo "clone $i: clone failed"; continue; }
    start=$(date +%s)
    (cd "$dir/main" && CI=true bash .ci/run < /dev/null) > "$OUT/ci$i.log" 2>&1
    rc=$?
    summary=$(grep -E "^[0-9]+ (passed|failed)" "$OUT/ci$i.log" | tail -1)
    echo "clone $i: .ci/run exit $rc, $(( $(date +%s) - start )) s: ${summary:-no pytest summary}"
    [ "$rc" -eq 0 ] && green=$((green + 1))
    rm -rf "$dir/main/.venv"   # a few GB each
done
echo "clones: $green of $N green"
if [ "$M" -gt 0 ]; then
    wt="$OUT/interrupt"
    git clone -q "$REPO" "$wt" && git -C "$wt" checkout -q "$COMMIT"
    ok=0
    for i in $(seq 1 "$M"); do
        if (cd "$wt" && PYTHONPATH="$wt/src" GSPMC_DATA="$SHARED/data" "$REPO/.venv/bin/python" -m pytest -q \
                -p no:cacheprovider tests/describe/test_command.py -k interrupted) > "$OUT/interrupt$i.log" 2>&1; then
            ok=$((ok + 1))
        fi
    done
    echo "interrupt tests: $ok of $M runs green (each run: SIGINT inherited as default and as ignored)"
fi
