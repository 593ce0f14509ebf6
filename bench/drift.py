"""Reference timing of Chapter 5 in Python with Evidently 0.7 (its legacy `Report` API,
the one the course uses), two jobs:

1. the full data-drift report between two whole files: decode both with pandas, then
   `DataDriftPreset` over every column Evidently can test (timestamps and all-null
   columns left out; numbers numerical, text and the two location ids categorical),
   with Evidently's default test per column;
2. the course's 28-day replay: the baseline on green 2022-01 (0–60 minute trips with 1–8
   passengers, LinearRegression on 4 numeric columns + the 2 location ids, the first
   30,000 rows train it, the rest with predictions are the reference), then for each day
   of the month of the current file a report with ColumnDriftMetric('prediction'),
   DatasetDriftMetric() and DatasetMissingValuesMetric(), read back with `as_dict()` as
   the course's `evidently_metrics_calculation.py` does. Timed from decoding both files.

Usage: python bench/drift.py REFERENCE CURRENT [REPLAY_REFERENCE REPLAY_CURRENT] [--repeat N]
Prints one JSON object: every run's seconds and the median for each job, the columns
compared, how many drifted, each column's (test, score), and each replay day's numbers,
so they can be diffed against ours.
"""
import argparse
import json
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LinearRegression

import evidently
from evidently.legacy.metric_preset import DataDriftPreset
from evidently.legacy.metrics import ColumnDriftMetric, DataDriftTable, DatasetDriftMetric, DatasetMissingValuesMetric
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report

LOCATION_IDS = ["PULocationID", "DOLocationID"]
NUMERIC = ["passenger_count", "trip_distance", "fare_amount", "total_amount"]
TRAIN_ROWS = 30_000


def comparable_columns(reference, current):
    """The columns Evidently can compare: shared, not timestamps, not all null."""
    shared = [c for c in reference.columns if c in current.columns]
    return [
        c
        for c in shared
        if not pd.api.types.is_datetime64_any_dtype(reference[c])
        and not reference[c].isna().all()
        and not current[c].isna().all()
    ]


def full_report(reference_path, current_path):
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    columns = comparable_columns(reference, current)
    numerical = [c for c in columns if pd.api.types.is_numeric_dtype(reference[c]) and c not in LOCATION_IDS]
    categorical = [c for c in columns if c not in numerical]
    mapping = ColumnMapping(
        target=None, prediction=None, numerical_features=numerical, categorical_features=categorical
    )
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=reference[columns], current_data=current[columns], column_mapping=mapping)
    return report.as_dict(), numerical, categorical


def column_scores(table):
    """Each column's test and score from a DataDriftTable result."""
    return {
        name: {
            "test": column["stattest_name"],
            "score": column["drift_score"],
            "threshold": column["stattest_threshold"],
            "drifted": column["drift_detected"],
            "type": column["column_type"],
        }
        for name, column in table["drift_by_columns"].items()
    }


def duration_minutes(frame):
    return (frame.lpep_dropoff_datetime - frame.lpep_pickup_datetime).dt.total_seconds() / 60


def replay(reference_path, current_path, per_column=False):
    """The course's baseline notebook, then its daily metrics loop (without Postgres).
    `per_column` adds a DataDriftTable to each day's report (untimed check run only)."""
    january = pd.read_parquet(reference_path)
    january["duration_min"] = duration_minutes(january)
    january = january[(january.duration_min >= 0) & (january.duration_min <= 60)]
    january = january[(january.passenger_count > 0) & (january.passenger_count <= 8)]
    features = NUMERIC + LOCATION_IDS
    train, reference = january[:TRAIN_ROWS].copy(), january[TRAIN_ROWS:].copy()
    model = LinearRegression().fit(train[features], train.duration_min)
    reference["prediction"] = model.predict(reference[features])
    monitored = ["prediction"] + features
    reference = reference[monitored]

    month = pd.read_parquet(current_path)
    # The course's mapping: the prediction is compared as a number through `prediction`.
    mapping = ColumnMapping(
        target=None, prediction="prediction", numerical_features=NUMERIC, categorical_features=LOCATION_IDS
    )
    metrics = [ColumnDriftMetric(column_name="prediction"), DatasetDriftMetric(), DatasetMissingValuesMetric()]
    report = Report(metrics=metrics + ([DataDriftTable()] if per_column else []))
    pickup = month.lpep_pickup_datetime
    # The month that holds most pickups (a file has a few stray trips from other months).
    begin = pickup.dt.to_period("M").mode()[0].to_timestamp()
    days_in_month = begin.days_in_month
    days = []
    for i in range(days_in_month):
        start = begin + pd.Timedelta(days=i)
        current = month[(pickup >= start) & (pickup < start + pd.Timedelta(days=1))].copy()
        current["prediction"] = model.predict(current[features].fillna(0))
        report.run(reference_data=reference, current_data=current[monitored], column_mapping=mapping)
        result = report.as_dict()
        day = {
            "date": start.strftime("%Y-%m-%d"),
            "rows": len(current),
            "prediction_drift": result["metrics"][0]["result"]["drift_score"],
            "columns": result["metrics"][1]["result"]["number_of_columns"],
            "drifted_columns": result["metrics"][1]["result"]["number_of_drifted_columns"],
            "dataset_drift": result["metrics"][1]["result"]["dataset_drift"],
            "share_missing": result["metrics"][2]["result"]["current"]["share_of_missing_values"],
        }
        if per_column:
            day["column_scores"] = column_scores(result["metrics"][3]["result"])
        days.append(day)
    return {"reference_rows": len(reference), "train_rows": len(train), "days": days}


def timed(job, repeat):
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = job()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("replay_reference", nargs="?")
    parser.add_argument("replay_current", nargs="?")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    # Evidently and pandas warn about deprecations on every run; the timings are the point.
    warnings.simplefilter("ignore")

    seconds, (report, numerical, categorical) = timed(lambda: full_report(args.reference, args.current), args.repeat)
    table = next(m["result"] for m in report["metrics"] if m["metric"] == "DataDriftTable")
    output = {
        "runner": f"python pandas {pd.__version__} evidently {evidently.__version__} "
        f"scikit-learn {sklearn.__version__} numpy {np.__version__}",
        "report_seconds": seconds,
        "report_median_seconds": statistics.median(seconds),
        "columns": len(table["drift_by_columns"]),
        "numerical": numerical,
        "categorical": categorical,
        "drifted_columns": table["number_of_drifted_columns"],
        "share_drifted": table["share_of_drifted_columns"],
        "dataset_drift": table["dataset_drift"],
        "column_scores": column_scores(table),
    }
    if args.replay_reference and args.replay_current:
        seconds, result = timed(lambda: replay(args.replay_reference, args.replay_current), args.repeat)
        # One more, untimed, with every column's score per day, to diff against ours.
        checked = replay(args.replay_reference, args.replay_current, per_column=True)
        output.update({
            "replay_seconds": seconds,
            "replay_median_seconds": statistics.median(seconds),
            "replay_days": len(result["days"]),
            "replay_reference_rows": result["reference_rows"],
            "replay": checked["days"],
        })
    print(json.dumps(output))


if __name__ == "__main__":
    main()
