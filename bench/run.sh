#!/usr/bin/env bash
# Chapter 1 benchmark: decode Jan + Feb 2021 → filter → vectorize → fit LinearRegression →
# validation RMSE, timed natively, in the release wasm (headless Chromium, in the worker)
# and in Python (pandas + scikit-learn), on this machine, in one run. Prints medians and
# ratios, the wasm sizes, navigation-to-interactive and worker memory.
# Run through `./lab bench` (which builds dist/ first).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${MLOPS_DATA:-../shared/data}
TRAIN=green_tripdata_2021-01.parquet
VAL=green_tripdata_2021-02.parquet
REPEAT=${REPEAT:-7}
OUT=bench/results
mkdir -p "$OUT"
echo "== tracking at scale (${TRACKING_RUNS:-10000} runs, IndexedDB, headless Chromium)"
CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --release --example bench_tracking -- "${TRACKING_RUNS:-10000}" | tee "$OUT/tracking.json"

if [ ! -f "$DATA/$TRAIN" ] || [ ! -f "$DATA/$VAL" ]; then
    echo "SKIPPED the Chapter 1 comparison: $DATA/$TRAIN and $VAL are needed (set MLOPS_DATA to their folder)"; exit 0
fi

echo "== native"
cargo run -q --release -p mlops-core --example bench_chapter1 -- "$DATA/$TRAIN" "$DATA/$VAL" "$REPEAT" | tee "$OUT/native.json"

echo "== wasm (headless Chromium)"
CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --example bench_wasm -- "$DATA" "$TRAIN" "$VAL" "$REPEAT" | tee "$OUT/wasm.json"

echo "== python"
VENV=target/bench-venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r bench/requirements.txt
fi
"$VENV/bin/python" bench/chapter1.py "$DATA/$TRAIN" "$DATA/$VAL" --repeat "$REPEAT" | tee "$OUT/python.json"

echo "== batch scoring (Chapter 4): native, wasm, python score.py"
cargo run -q --release -p mlops-core --example bench_score -- "$DATA/$TRAIN" "$DATA/$VAL" "$REPEAT" | tee "$OUT/score-native.json"
BENCH_MODE=score CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --example bench_wasm -- "$DATA" "$TRAIN" "$VAL" "$REPEAT" | tee "$OUT/score-wasm.json"
"$VENV/bin/python" bench/score.py "$DATA/$TRAIN" "$DATA/$VAL" --repeat "$REPEAT" | tee "$OUT/score-python.json"

python3 - "$OUT" <<'PY'
import glob, gzip, json, os, sys
out = sys.argv[1]
load = lambda name: json.load(open(os.path.join(out, name + ".json")))
native, wasm, python = load("native"), load("wasm"), load("python")
py = python["median_seconds"]
print()
print(f"{'runner':<10} {'median s':>9} {'ratio to Python':>16} {'val RMSE':>10}")
for name, r in (("native", native), ("wasm", wasm), ("python", python)):
    print(f"{name:<10} {r['median_seconds']:>9.3f} {r['median_seconds'] / py:>16.3f} {r['val_rmse']:>10.6f}")
print(f"goals: wasm/python <= 0.1, native/python <= 0.05")
print(f"python: {python['runner']}")
for path in sorted(glob.glob("dist/*.wasm")):
    raw = os.path.getsize(path)
    packed = len(gzip.compress(open(path, "rb").read(), 9))
    print(f"{os.path.basename(path)}: {raw / 1e6:.2f} MB raw, {packed / 1e6:.2f} MB gzip")
print(f"navigation to interactive: {wasm.get('navigation_to_interactive_ms', float('nan')):.0f} ms")
print(f"worker wasm memory after training: {wasm.get('worker_memory_bytes', 0) / 1e6:.1f} MB")
print()
score = {name: load("score-" + name) for name in ("native", "wasm", "python")}
py = score["python"]["median_seconds"]
print(f"{'scoring':<10} {'median s':>9} {'rows/s':>10} {'ratio to Python':>16}")
for name, r in score.items():
    print(f"{name:<10} {r['median_seconds']:>9.3f} {r['rows_per_second']:>10.0f} {r['median_seconds'] / py:>16.3f}")
PY
