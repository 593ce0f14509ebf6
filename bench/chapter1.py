"""Reference timing of Chapter 1 in Python: the course's steps with pandas + scikit-learn.

Usage: python bench/chapter1.py TRAIN.parquet VAL.parquet [--repeat N]
Prints one JSON object with every run's seconds and the median.
"""
import argparse
import json
import statistics
import time

import pandas as pd
import sklearn
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

from course_prep import features


def pipeline(train_path, val_path):
    x_train, y_train, x_val, y_val = features(train_path, val_path)
    model = LinearRegression().fit(x_train, y_train)
    return root_mean_squared_error(y_val, model.predict(x_val))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("val")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    seconds, rmse = [], None
    for _ in range(args.repeat):
        start = time.perf_counter()
        rmse = pipeline(args.train, args.val)
        seconds.append(time.perf_counter() - start)
    print(json.dumps({
        "runner": f"python pandas {pd.__version__} scikit-learn {sklearn.__version__}",
        "seconds": seconds,
        "median_seconds": statistics.median(seconds),
        "val_rmse": rmse,
    }))


if __name__ == "__main__":
    main()
