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
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error


def prepare(path):
    frame = pd.read_parquet(path)
    frame["duration"] = (frame.lpep_dropoff_datetime - frame.lpep_pickup_datetime).dt.total_seconds() / 60
    frame = frame[(frame.duration >= 1) & (frame.duration <= 60)].copy()
    frame["PU_DO"] = frame.PULocationID.astype(str) + "_" + frame.DOLocationID.astype(str)
    return frame


def pipeline(train_path, val_path):
    train, val = prepare(train_path), prepare(val_path)
    columns = ["PU_DO", "trip_distance"]
    vectorizer = DictVectorizer()
    x_train = vectorizer.fit_transform(train[columns].to_dict(orient="records"))
    x_val = vectorizer.transform(val[columns].to_dict(orient="records"))
    model = LinearRegression().fit(x_train, train.duration.values)
    return root_mean_squared_error(val.duration.values, model.predict(x_val))


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
