"""Reference timing of Chapter 3's training pipeline as one Python script.

The same steps as the `training` preset: load green 2021-01 and 2021-02, prepare
(duration in minutes, rides of 1-60 min, PU_DO), DictVectorizer on PU_DO + trip_distance,
LinearRegression and XGBoost with the preset's parameters (60 rounds, early stopping
after 10, learning rate 0.3, depth 6, seed 42), evaluate both on February and keep the
better one. XGBoost here reads the one-hot DictVectorizer matrix (the preset encodes
zones as categories; the parameters are the same).

Usage: python bench/pipeline.py JAN.parquet FEB.parquet [--repeat N]
Prints one JSON object with every run's seconds, the median and both RMSEs.
"""
import argparse
import json
import statistics
import time

import pandas as pd
import sklearn
import xgboost as xgb
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

from course_prep import features


def pipeline(jan_path, feb_path):
    x_train, y_train, x_val, y_val = features(jan_path, feb_path)
    linear = LinearRegression().fit(x_train, y_train)
    linear_rmse = root_mean_squared_error(y_val, linear.predict(x_val))
    dtrain = xgb.DMatrix(x_train, label=y_train)
    dval = xgb.DMatrix(x_val, label=y_val)
    params = {
        "objective": "reg:squarederror",
        "learning_rate": 0.3,
        "max_depth": 6,
        "min_child_weight": 1.0,
        "reg_alpha": 0.0,
        "reg_lambda": 1.0,
        "max_bin": 256,
        "tree_method": "hist",
        "seed": 42,
    }
    booster = xgb.train(
        params, dtrain, num_boost_round=60, evals=[(dval, "validation")], early_stopping_rounds=10, verbose_eval=False
    )
    boosted_rmse = root_mean_squared_error(y_val, booster.predict(dval, iteration_range=(0, booster.best_iteration + 1)))
    return linear_rmse, boosted_rmse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("jan")
    parser.add_argument("feb")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    seconds = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        linear_rmse, boosted_rmse = pipeline(args.jan, args.feb)
        seconds.append(time.perf_counter() - start)
    print(json.dumps({
        "runner": f"python (pandas {pd.__version__}, scikit-learn {sklearn.__version__}, xgboost {xgb.__version__})",
        "seconds": seconds,
        "median_seconds": statistics.median(seconds),
        "linear_val_rmse": linear_rmse,
        "xgboost_val_rmse": boosted_rmse,
    }))


if __name__ == "__main__":
    main()
