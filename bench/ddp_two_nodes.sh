#!/usr/bin/env bash
# The multi-node DDP command of docs/training.md ("Several machines"), run for real on this machine:
# two "nodes" (two processes, NODE_RANK 0 and 1, one CPU device each, gloo) that meet at MASTER_ADDR and
# train one short run together into the same --out folder (a shared file system on a real cluster).
#
#   bash bench/ddp_two_nodes.sh [OUT]       # default runs/ddp-two-nodes; logs OUT.node0.log, OUT.node1.log
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/ddp-two-nodes}
mkdir -p "$(dirname "$OUT")"
args=(fit --config traduttore --out "$OUT"
      --set trainer.strategy=ddp --set trainer.num_nodes=2 --set trainer.devices=1
      --set trainer.accelerator=cpu --set trainer.precision=32-true --set trainer.threads=1
      --set trainer.progress_bar=false --set optim.epochs=1 --set trainer.limit_train_batches=0.1
      --set 'model.channels=[8, 8]' --set 'model.strides=[1, 2]')
export MASTER_ADDR=127.0.0.1 MASTER_PORT=${MASTER_PORT:-29533} WORLD_SIZE=2
NODE_RANK=1 .venv/bin/gspmc "${args[@]}" > "$OUT.node1.log" 2>&1 &
node1=$!
NODE_RANK=0 .venv/bin/gspmc "${args[@]}" > "$OUT.node0.log" 2>&1
wait "$node1"
grep -h "TEST top-1\|world_size\|Initializing distributed" "$OUT.node0.log" "$OUT.node1.log" || true
echo "both nodes exited 0; result: $OUT/result.json"
