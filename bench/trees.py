"""Reference timing of Chapter 2's tree ensembles in Python, the counterpart of
`crates/mlops-core/examples/bench_trees.rs`.

Each run decodes both months with pandas, applies the course's preparation (durations of
1-60 minutes, DictVectorizer on {"PU_DO": "pu_do", "trip_distance": x}) and fits:
- XGBoost: `xgb.train` with the course's best parameters (tree_method hist, the default),
  200 rounds, no early stopping, scored on the training and validation sets every round
  (as our history is), with XGBoost's default threads;
- scikit-learn: RandomForestRegressor(n_estimators=100, max_depth=20, random_state=0),
  once with the default n_jobs (one core) and once with n_jobs=-1.

Usage: python bench/trees.py TRAIN.parquet VAL.parquet [--repeat N] [--only xgboost|forest|forest_parallel]
       [--nthread N]   (XGBoost's threads; default: all cores)
Prints one JSON object: per model every run's seconds (decode + fit), the fit seconds,
their medians and the validation RMSE.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

from course_prep import features

# GbdtParams::course_best() without early stopping.
XGB_PARAMS = {
    "learning_rate": 0.09585355369315604,
    "max_depth": 30,
    "min_child_weight": 1.060597050922164,
    "objective": "reg:squarederror",
    "reg_alpha": 0.018060244040060163,
    "reg_lambda": 0.011658731377413597,
    "seed": 42,
    "tree_method": "hist",
}
ROUNDS = 200


def fit_xgboost(nthread):
    def fit(x_train, y_train, x_val, y_val):
        return fit_booster(x_train, y_train, x_val, y_val, {} if nthread is None else {"nthread": nthread})

    return fit


def fit_booster(x_train, y_train, x_val, y_val, threads):
    train, val = xgb.DMatrix(x_train, label=y_train), xgb.DMatrix(x_val, label=y_val)
    history = {}
    booster = xgb.train(
        {**XGB_PARAMS, **threads}, train, num_boost_round=ROUNDS, evals=[(train, "train"), (val, "val")],
        evals_result=history, verbose_eval=False,
    )
    rmse = root_mean_squared_error(y_val, booster.predict(val))
    # nthread 0 means XGBoost's default: every core OpenMP sees.
    nthread = json.loads(booster.save_config())["learner"]["generic_param"]["nthread"]
    return rmse, {
        "nthread": f"{nthread} (cores: {os.cpu_count()})",
        "val_rmse_after_rounds": {str(k): history["val"]["rmse"][k - 1] for k in (1, 10, 50, 100, 200)},
    }


def fit_forest(n_jobs):
    def fit(x_train, y_train, x_val, y_val):
        forest = RandomForestRegressor(n_estimators=100, max_depth=20, random_state=0, n_jobs=n_jobs)
        forest.fit(x_train, y_train)
        nodes = sum(tree.tree_.node_count for tree in forest.estimators_)
        return root_mean_squared_error(y_val, forest.predict(x_val)), {"nodes": int(nodes), "n_jobs": n_jobs}

    return fit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("val")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["xgboost", "forest", "forest_parallel"])
    parser.add_argument("--nthread", type=int)
    args = parser.parse_args()
    models = {"xgboost": fit_xgboost(args.nthread), "forest": fit_forest(None), "forest_parallel": fit_forest(-1)}
    report = {
        "runner": f"python pandas {pd.__version__} xgboost {xgb.__version__} scikit-learn {sklearn.__version__}",
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
    }
    for name, fit in models.items():
        if args.only and args.only != name:
            continue
        seconds, fit_seconds, rmse, extra = [], [], None, {}
        for _ in range(args.repeat):
            start = time.perf_counter()
            x_train, y_train, x_val, y_val = features(args.train, args.val)
            fit_start = time.perf_counter()
            rmse, extra = fit(x_train, y_train, x_val, y_val)
            fit_seconds.append(time.perf_counter() - fit_start)
            seconds.append(time.perf_counter() - start)
        report[name] = {
            "seconds": seconds,
            "median_seconds": statistics.median(seconds),
            "fit_seconds": fit_seconds,
            "fit_median_seconds": statistics.median(fit_seconds),
            "val_rmse": float(rmse),
            **extra,
        }
    report["xgboost_params"] = {**XGB_PARAMS, "num_boost_round": ROUNDS}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
