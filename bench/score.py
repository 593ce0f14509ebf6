"""Reference timing of Chapter 4's batch scoring in Python, as the course's score.py does
it with pandas + scikit-learn: read a month, compute durations, keep 1–60 minutes, give
each ride a UUID, vectorize, predict, and write the result as parquet.

The model is fitted on TRAIN first (not timed); only scoring MONTH is timed.
Usage: python bench/score.py TRAIN.parquet MONTH.parquet [--repeat N]
Prints one JSON object with every run's seconds, the median and the rows scored.
"""
import argparse
import json
import os
import statistics
import tempfile
import time
import uuid

import pandas as pd
import sklearn
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from chapter1 import prepare

COLUMNS = ["PU_DO", "trip_distance"]


def score(pipeline, month_path, output_path):
    frame = prepare(month_path)
    frame["ride_id"] = [str(uuid.uuid4()) for _ in range(len(frame))]
    predictions = pipeline.predict(frame[COLUMNS].to_dict(orient="records"))
    result = pd.DataFrame({
        "ride_id": frame.ride_id,
        "lpep_pickup_datetime": frame.lpep_pickup_datetime,
        "PULocationID": frame.PULocationID,
        "DOLocationID": frame.DOLocationID,
        "actual_duration": frame.duration,
        "predicted_duration": predictions,
        "diff": frame.duration - predictions,
        "model_version": "bench",
    })
    result.to_parquet(output_path, index=False)
    return len(result)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("month")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    train = prepare(args.train)
    pipeline = make_pipeline(DictVectorizer(), LinearRegression())
    pipeline.fit(train[COLUMNS].to_dict(orient="records"), train.duration.values)
    seconds, rows = [], 0
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            start = time.perf_counter()
            rows = score(pipeline, args.month, os.path.join(folder, "scored.parquet"))
            seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    print(json.dumps({
        "runner": f"python pandas {pd.__version__} scikit-learn {sklearn.__version__}",
        "seconds": seconds,
        "median_seconds": median,
        "rows": rows,
        "rows_per_second": rows / median,
    }))


if __name__ == "__main__":
    main()
