"""The course's Chapter 1 preparation, shared by the Python reference timings.

Duration in minutes, rides of 1-60 minutes, `PU_DO` the zone pair, and a
DictVectorizer on PU_DO + trip_distance fitted on the training month.
"""
import pandas as pd
from sklearn.feature_extraction import DictVectorizer

COLUMNS = ["PU_DO", "trip_distance"]


def prepare(path):
    frame = pd.read_parquet(path)
    frame["duration"] = (frame.lpep_dropoff_datetime - frame.lpep_pickup_datetime).dt.total_seconds() / 60
    frame = frame[(frame.duration >= 1) & (frame.duration <= 60)].copy()
    frame["PU_DO"] = frame.PULocationID.astype(str) + "_" + frame.DOLocationID.astype(str)
    return frame


def features(train_path, val_path):
    """(x_train, y_train, x_val, y_val) as the course builds them."""
    train, val = prepare(train_path), prepare(val_path)
    vectorizer = DictVectorizer()
    x_train = vectorizer.fit_transform(train[COLUMNS].to_dict(orient="records"))
    x_val = vectorizer.transform(val[COLUMNS].to_dict(orient="records"))
    return x_train, train.duration.values, x_val, val.duration.values
