#!/usr/bin/env bash
# The suite green under load (issue 19, point 6), as CI runs it: N fresh clones of one commit, each with a
# copy of shared/ beside it (a symlink here), each running `bash .ci/run` from scratch (new .venv, lint, the
# README's test command, the wheel check) with CI=true and no standard input, one after another, while
# two busy loops (one per core) run beside them. Then, optionally, the describe interrupt tests M times.
#
#   bash bench/ci_under_load.sh [N] [M]          # default 5 clones, 0 interrupt runs; logs in $OUT
#   COMMIT=abc1234 bash bench/ci_under_load.sh   # another commit (default: HEAD when it starts)
#   BUSY=0 JOBS=2 bash bench/ci_under_load.sh 4  # two clones at a time, no busy loops: the load is another job
#                                                # (e.g. a training grid) started beside it; load.log samples it
set -uo pipefail
N=${1:-5}
M=${2:-0}
REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$(cd "$REPO/../shared" && pwd)}
OUT=${OUT:-$(mktemp -d /tmp/gspmc-ci-load.XXXXXX)}
COMMIT=${COMMIT:-$(git -C "$REPO" rev-parse --short HEAD)}
BUSY=${BUSY:-2}
JOBS=${JOBS:-1}
mkdir -p "$OUT"
pids=()
for _ in $(seq 1 "$BUSY"); do python3 -c "while True: pass" > /dev/null 2>&1 & pids+=($!); done
# the load, sampled once a minute: "time load1 load5 load15"
( while true; do echo "$(date +%H:%M) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 60; done ) > "$OUT/load.log" 2>&1 &
pids+=($!)
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
echo "commit $COMMIT: $N fresh clones running bash .ci/run, $JOBS at a time, $BUSY busy loops beside them; logs in $OUT"
one_clone() {
    local i=$1 dir="$OUT/ci$1" start rc summary
    mkdir -p "$dir"
    ln -sfn "$SHARED" "$dir/shared"
    git clone -q "$REPO" "$dir/main" && git -C "$dir/main" checkout -q "$COMMIT" || { echo "clone $i: clone failed"; return 1; }
    start=$(date +%s)
    (cd "$dir/main" && CI=true bash .ci/run < /dev/null) > "$OUT/ci$i.log" 2>&1
    rc=$?
    summary=$(grep -E "^[0-9]+ (passed|failed)" "$OUT/ci$i.log" | tail -1)
    echo "clone $i: .ci/run exit $rc, $(( $(date +%s) - start )) s: ${summary:-no pytest summary}"
    rm -rf "$dir/main/.venv"   # a few GB each
    return "$rc"
}
green=0
running=()
for i in $(seq 1 "$N"); do
    one_clone "$i" > "$OUT/ci$i.status" 2>&1 &
    running+=($!)
    if [ "${#running[@]}" -ge "$JOBS" ]; then
        wait "${running[0]}" && green=$((green + 1)); running=("${running[@]:1}")
    fi
done
for p in "${running[@]}"; do wait "$p" && green=$((green + 1)); done
cat "$OUT"/ci*.status
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
