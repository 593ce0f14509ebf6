#!/usr/bin/env bash
# Chapter 1 benchmark: decode Jan + Feb 2021 → filter → vectorize → fit LinearRegression →
# validation RMSE, timed natively, in the release wasm (headless Chromium, in the worker)
# and in Python (pandas + scikit-learn), on this machine, in one run. Prints medians and
# ratios, the wasm sizes, navigation-to-interactive and worker memory.
# Then Chapter 2: boosted trees and a forest (native, wasm, XGBoost / scikit-learn) and the
# course's hyperparameter search with the worker pool; then Chapter 5: a full drift report and a
# 28-day replay against Evidently 0.7.
# Run through `./lab bench` (which builds dist/ first).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${MLOPS_DATA:-../shared/data}
TRAIN=green_tripdata_2021-01.parquet
VAL=green_tripdata_2021-02.parquet
REPEAT=${REPEAT:-7}
OUT=bench/results
mkdir -p "$OUT"
# BENCH_SECTIONS=trees,search,pipeline (any of tracking, chapter1, scoring, trees, search,
# pipeline, drift) runs only those; all by default.
SECTIONS=${BENCH_SECTIONS:-tracking,chapter1,scoring,trees,search,pipeline,drift}
wanted() { [[ ",$SECTIONS," == *",$1,"* ]]; }
VENV=target/bench-venv
python_venv() {
    # (Re)installed whenever bench/requirements.txt changes (a copy is kept in the venv).
    if [ ! -x "$VENV/bin/python" ] || ! cmp -s bench/requirements.txt "$VENV/requirements.txt"; then
        [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q -r bench/requirements.txt
        cp bench/requirements.txt "$VENV/requirements.txt"
    fi
}

if wanted tracking; then
echo "== tracking at scale (${TRACKING_RUNS:-10000} runs, IndexedDB, headless Chromium)"
CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --release --example bench_tracking -- "${TRACKING_RUNS:-10000}" | tee "$OUT/tracking.json"
fi

if [ ! -f "$DATA/$TRAIN" ] || [ ! -f "$DATA/$VAL" ]; then
    echo "SKIPPED the Chapter 1 comparison: $DATA/$TRAIN and $VAL are needed (set MLOPS_DATA to their folder)"; exit 0
fi

python_venv
if wanted chapter1; then
echo "== native"
cargo run -q --release -p mlops-core --example bench_chapter1 -- "$DATA/$TRAIN" "$DATA/$VAL" "$REPEAT" | tee "$OUT/native.json"

echo "== wasm (headless Chromium)"
CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --example bench_wasm -- "$DATA" "$TRAIN" "$VAL" "$REPEAT" | tee "$OUT/wasm.json"

echo "== python"
"$VENV/bin/python" bench/chapter1.py "$DATA/$TRAIN" "$DATA/$VAL" --repeat "$REPEAT" | tee "$OUT/python.json"
fi

if wanted scoring; then
echo "== batch scoring (Chapter 4): native, wasm, python score.py"
cargo run -q --release -p mlops-core --example bench_score -- "$DATA/$TRAIN" "$DATA/$VAL" "$REPEAT" | tee "$OUT/score-native.json"
BENCH_MODE=score CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --example bench_wasm -- "$DATA" "$TRAIN" "$VAL" "$REPEAT" | tee "$OUT/score-wasm.json"
"$VENV/bin/python" bench/score.py "$DATA/$TRAIN" "$DATA/$VAL" --repeat "$REPEAT" | tee "$OUT/score-python.json"

fi

if wanted chapter1 && wanted scoring; then
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
fi

if wanted trees; then
echo
echo "== trees (Chapter 2): decode + vectorize + GBDT (the course's best params, 200 rounds) and RandomForest (100 trees, depth 20)"
TREES_REPEAT=${TREES_REPEAT:-3}
cargo run -q --release -p mlops-core --example bench_trees -- "$DATA/$TRAIN" "$DATA/$VAL" --repeat "$TREES_REPEAT" | tee "$OUT/trees-native.json"
BENCH_MODE=trees CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --example bench_wasm -- "$DATA" "$TRAIN" "$VAL" "$TREES_REPEAT" | tee "$OUT/trees-wasm.json"
if [ -f bench/trees.py ]; then
    "$VENV/bin/python" bench/trees.py "$DATA/$TRAIN" "$DATA/$VAL" --repeat "$TREES_REPEAT" | tee "$OUT/trees-python.json"
else
    echo "SKIPPED XGBoost / scikit-learn: bench/trees.py is missing"; echo '{}' >"$OUT/trees-python.json"
fi
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
load = lambda name: json.load(open(os.path.join(out, "trees-" + name + ".json")))
native, wasm, python = load("native"), load("wasm"), load("python")
def entry(report, *keys):
    for key in keys:
        if isinstance(report.get(key), dict):
            return report[key]
    return None
print(f"{'model':<8} {'runner':<18} {'median s':>9} {'fit s':>8} {'val RMSE':>9} {'wasm / this':>12}")
for model, python_rows in (("gbdt", (("XGBoost", "xgboost"),)),
                           ("forest", (("scikit-learn", "forest"), ("sklearn n_jobs=-1", "forest_parallel")))):
    rows = [("native", entry(native, model)), ("wasm", entry(wasm, model))]
    rows += [(name, entry(python, key)) for name, key in python_rows]
    ours = rows[1][1]
    for name, r in rows:
        if r is None:
            print(f"{model:<8} {name:<18} {'—':>9}")
            continue
        ratio = ours["median_seconds"] / r["median_seconds"] if ours and r.get("median_seconds") else float("nan")
        print(f"{model:<8} {name:<18} {r['median_seconds']:>9.3f} {r.get('fit_median_seconds', float('nan')):>8.3f}"
              f" {r.get('val_rmse', float('nan')):>9.4f} {ratio:>12.3f}")
print(f"wasm decode of both months (median): {wasm.get('decode_median_seconds', float('nan')):.3f} s;"
      " median s = decode + vectorize + fit (+ scoring in wasm); 'wasm / this' compares those medians")
print(f"python: {python.get('runner', 'not run')} on {python.get('cpus', '?')} CPUs")
PY
fi

if wanted search; then
echo
echo "== search (Chapter 2): the course's XGBoost search (${SEARCH_EVALS:-50} TPE trials) end to end with the worker pool (${SEARCH_WORKERS:-cores - 1} workers)"
BENCH_MODE=search CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --example bench_wasm -- "$DATA" "$TRAIN" "$VAL" | tee "$OUT/search-wasm.json"
python3 - "$OUT" <<'PY'
import json, os, sys
r = json.load(open(os.path.join(sys.argv[1], "search-wasm.json")))
print(f"{r['trials']} trials ({r['finished']} finished, {r['failed']} failed) with {r['workers']} workers"
      f" (hardwareConcurrency {r['hardware_concurrency']}): {r['wall_seconds']:.1f} s wall,"
      f" {r['trials_per_minute']:.2f} trials/minute, best val RMSE {r['best_val_rmse']}")
PY
fi

if wanted pipeline; then
echo
echo "== pipeline (Chapter 3): the training preset (load Jan + Feb → prepare → vectorize → LinearRegression and GBDT → evaluate → register), browser vs one Python script"
PIPELINE_REPEAT=${PIPELINE_REPEAT:-3}
BENCH_MODE=pipeline CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --example bench_wasm -- "$DATA" "$TRAIN" "$VAL" "$PIPELINE_REPEAT" | tee "$OUT/pipeline-wasm.json"
"$VENV/bin/python" bench/pipeline.py "$DATA/$TRAIN" "$DATA/$VAL" --repeat "$PIPELINE_REPEAT" | tee "$OUT/pipeline-python.json"
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
wasm = json.load(open(os.path.join(out, "pipeline-wasm.json")))
python = json.load(open(os.path.join(out, "pipeline-python.json")))
ratio = wasm["median_seconds"] / python["median_seconds"]
print(f"training pipeline: browser median {wasm['median_seconds']:.2f} s {wasm['seconds']},"
      f" Python median {python['median_seconds']:.2f} s {python['seconds']}; browser / Python = {ratio:.3f}")
PY
fi

if wanted drift; then
echo
echo "== drift (Chapter 5): full report ${TRAIN%.parquet} → ${VAL%.parquet} (all columns) and a 28-day replay"
REPLAY_REFERENCE=green_tripdata_2022-01.parquet
REPLAY_CURRENT=green_tripdata_2022-02.parquet
if [ ! -f "$DATA/$REPLAY_REFERENCE" ] || [ ! -f "$DATA/$REPLAY_CURRENT" ]; then
    echo "SKIPPED the drift comparison: $DATA/$REPLAY_REFERENCE and $REPLAY_CURRENT are needed (set MLOPS_DATA to their folder)"; exit 0
fi
cargo run -q --release -p mlops-core --example bench_drift -- \
    "$DATA/$TRAIN" "$DATA/$VAL" "$DATA/$REPLAY_REFERENCE" "$DATA/$REPLAY_CURRENT" "$REPEAT" >"$OUT/drift-native.json"
BENCH_MODE=drift CHROMEDRIVER=/usr/bin/chromedriver cargo run -q --example bench_wasm -- \
    "$DATA" "$TRAIN" "$VAL" "$REPEAT" "$REPLAY_REFERENCE" "$REPLAY_CURRENT" | tee "$OUT/drift-wasm.json"
"$VENV/bin/python" bench/drift.py "$DATA/$TRAIN" "$DATA/$VAL" "$DATA/$REPLAY_REFERENCE" "$DATA/$REPLAY_CURRENT" \
    --repeat "$REPEAT" >"$OUT/drift-python.json"

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
load = lambda name: json.load(open(os.path.join(out, "drift-" + name + ".json")))
runs = {name: load(name) for name in ("native", "wasm", "python")}
evidently = runs["python"]
print(f"{'drift':<10} {'report s':>9} {'/ Evidently':>12} {'replay s':>9} {'/ Evidently':>12}")
for name, r in runs.items():
    report, replay = r["report_median_seconds"], r["replay_median_seconds"]
    print(f"{name:<10} {report:>9.3f} {report / evidently['report_median_seconds']:>12.3f}"
          f" {replay:>9.3f} {replay / evidently['replay_median_seconds']:>12.3f}")
print(f"goal: wasm/Evidently <= 0.05 for the full report; medians of {len(evidently['report_seconds'])} runs")
print(f"python: {evidently['runner']}")
print(f"columns compared: ours {runs['native']['columns']} (wasm {runs['wasm']['columns']}), Evidently {evidently['columns']};"
      f" drifted: ours {runs['native']['drifted_columns']}, Evidently {evidently['drifted_columns']};"
      f" replay days: ours {runs['native']['replay_days']}, Evidently {evidently['replay_days']}")

# Our per-column tests and scores against Evidently's (native run; wasm runs the same code).
TESTS = {"ks": "K-S p_value", "chi_square": "chi-square p_value", "z": "Z-test p_value",
         "wasserstein": "Wasserstein distance (normed)", "jensen_shannon": "Jensen-Shannon distance", "psi": "PSI"}

def differences(where, ours, theirs):
    found = []
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name), theirs.get(name)
        if a is None or b is None or "skipped" in a:
            found.append(f"{where} {name}: ours {a}, Evidently {b}")
        elif TESTS.get(a["test"], a["test"]) != b["test"] or abs(a["score"] - b["score"]) > 1e-6 or a["drifted"] != b["drifted"]:
            found.append(f"{where} {name}: ours {TESTS.get(a['test'], a['test'])} {a['score']:.9g}"
                         f" (drifted {a['drifted']}), Evidently {b['test']} {b['score']:.9g} (drifted {b['drifted']})")
    return found

found = differences("report", runs["native"]["column_scores"], evidently["column_scores"])
ours_days = {d["date"]: d for d in runs["native"]["replay"]}
for theirs in evidently["replay"]:
    ours = ours_days.get(theirs["date"])
    if ours is None:
        found.append(f"replay {theirs['date']}: missing from ours")
        continue
    found += differences(f"replay {theirs['date']}", ours["column_scores"], theirs["column_scores"])
    for key in ("rows", "columns", "drifted_columns", "share_missing"):
        if abs((ours[key] or 0) - theirs[key]) > 1e-9:
            found.append(f"replay {theirs['date']} {key}: ours {ours[key]}, Evidently {theirs[key]}")
print(f"scores differing from Evidently's by > 1e-6 (or another test/verdict): {len(found)}")
for line in found[:40]:
    print("  " + line)
if len(found) > 40:
    print(f"  … and {len(found) - 40} more (bench/results/drift-*.json)")
PY
fi
