"""The ride-duration service, exported from MLOps Lab.

    GET  /ping     -> PONG
    POST /predict  {"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40}
                   -> {"duration": 12.3, "model_version": "..."}

The model is stored as plain JSON (model.json): a linear model's feature names,
coefficients and intercept, or a tree ensemble's trees as flat node arrays (gradient
boosting adds them up, a random forest averages them). Loading JSON runs no code, unlike
unpickling a file, and needs neither scikit-learn, XGBoost nor numpy. The arithmetic
below is the one MLOps Lab uses in the browser, term for term and in the same order, so
both give the same minutes to the last digit.
"""

import json
import math
import os

from flask import Flask, Response, jsonify, request

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.environ.get("MODEL_PATH", os.path.join(HERE, "model.json"))
# Answered with every prediction, so a log line says which model made it.
MODEL_VERSION = os.environ.get("MODEL_VERSION", "__MODEL_VERSION__")

# The same limits as the service in the browser.
MAX_BODY_BYTES = 16 * 1024
MAX_TRIP_DISTANCE_MILES = 500.0
TLC_ZONES = range(1, 266)
EXAMPLE = '{"PULocationID": 10, "DOLocationID": 50, "trip_distance": 40}'
# Zone ids are categories only as whole numbers from 0 to this (a u32 in MLOps Lab).
MAX_CATEGORY = 4294967295
TREE_KINDS = ("gbdt", "random_forest")


def number(value):
    # JSON has no NaN: a non-finite number is saved as null.
    return math.nan if value is None else float(value)


class Features:
    """DictVectorizer-style columns, read from model.json's feature names."""

    def __init__(self, artifact):
        self.feature_set = artifact.get("feature_set", "pu_do")
        if self.feature_set not in ("pu_do", "pu_and_do"):
            raise ValueError(f"model.json has an unknown feature_set {self.feature_set!r}")
        # Column of each feature name, as DictVectorizer's vocabulary_.
        self.columns = {name: column for column, name in enumerate(artifact["feature_names"])}

    def features(self, pu, do, trip_distance):
        """The feature dict of one ride, as the course builds it."""
        if self.feature_set == "pu_do":
            return {"PU_DO": f"{pu}_{do}", "trip_distance": trip_distance}
        return {"PULocationID": str(pu), "DOLocationID": str(do), "trip_distance": trip_distance}

    def vectorize(self, pu, do, trip_distance):
        """(column, value) pairs in column order; names unseen in training are skipped.

        As DictVectorizer: a string becomes a `key=value` column with value 1, a number
        stays in the `key` column.
        """
        entries = []
        for key, value in self.features(pu, do, trip_distance).items():
            if isinstance(value, str):
                name, value = f"{key}={value}", 1.0
            else:
                name, value = key, float(value)
            column = self.columns.get(name)
            if column is not None:
                entries.append((column, value))
        entries.sort()
        return entries


class LinearModel:
    """A linear model over DictVectorizer-style features."""

    def __init__(self, artifact):
        names = artifact["feature_names"]
        coefficients = artifact["coefficients"]
        if len(names) != len(coefficients):
            raise ValueError(
                f"model.json has {len(names)} feature names but {len(coefficients)} coefficients"
            )
        self.features = Features(artifact)
        self.coefficients = [number(c) for c in coefficients]
        self.intercept = number(artifact["intercept"])

    def predict(self, pu, do, trip_distance):
        # Summed in column order from -0.0 (as Rust's sum starts), then added to the
        # intercept: the order of float additions is the same as in MLOps Lab, hence the
        # same result.
        total = -0.0
        for column, value in self.features.vectorize(pu, do, trip_distance):
            total += self.coefficients[column] * value
        return self.intercept + total


def category_of(value):
    """The category id of a feature value, or None when it is not a whole number in range."""
    if value >= 0.0 and value <= MAX_CATEGORY and value.is_integer():
        return int(value)
    return None


def as_float(zone):
    # A zone id far beyond any float would overflow; it is no category anyway.
    try:
        return float(zone)
    except OverflowError:
        return math.inf if zone > 0 else -math.inf


class Tree:
    """One decision tree as flat node arrays; node 0 is the root, feature < 0 a leaf.

    A numeric split sends a row left when its value is < threshold, a categorical split
    (a non-empty zone list) when its category is listed; a missing value goes where
    default_left says, a category not listed goes right.
    """

    def __init__(self, tree):
        self.feature = [int(f) for f in tree["feature"]]
        n = len(self.feature)
        self.threshold = [number(t) for t in tree["threshold"]]
        self.default_left = [bool(d) for d in tree["default_left"]]
        self.left = [int(i) for i in tree["left"]]
        self.right = [int(i) for i in tree["right"]]
        self.value = [number(v) for v in tree["value"]]
        categories = tree.get("categories") or []
        arrays = (self.threshold, self.default_left, self.left, self.right, self.value)
        if n == 0 or any(len(a) != n for a in arrays) or (categories and len(categories) != n):
            raise ValueError("model.json has a tree whose node arrays have different lengths")
        self.categories = [frozenset(c) for c in categories]

    def leaf(self, value_of):
        node = 0
        # A well-formed tree reaches a leaf in fewer steps than it has nodes.
        for _ in range(len(self.feature) + 1):
            if node >= len(self.feature):
                return 0.0
            feature = self.feature[node]
            if feature < 0:
                return self.value[node]
            value = value_of(feature)
            if value is None:
                go_left = self.default_left[node]
            elif node < len(self.categories) and self.categories[node]:
                go_left = category_of(value) in self.categories[node]
            else:
                go_left = value < self.threshold[node]
            node = self.left[node] if go_left else self.right[node]
        return 0.0


class TreeModel:
    """A gradient-boosted (XGBRegressor) or random-forest ensemble of Trees."""

    def __init__(self, artifact):
        self.kind = artifact["kind"]
        self.encoding = artifact.get("encoding", "one_hot")
        if self.encoding not in ("one_hot", "categorical"):
            raise ValueError(f"model.json has an unknown encoding {self.encoding!r}")
        if self.encoding == "categorical" and artifact["feature_names"] != [
            "PULocationID",
            "DOLocationID",
            "trip_distance",
        ]:
            raise ValueError("a categorical tree model must read PULocationID, DOLocationID, trip_distance")
        self.features = Features(artifact)
        self.base_score = number(artifact.get("base_score", 0.0))
        self.trees = [Tree(tree) for tree in artifact["trees"]]

    def values(self, pu, do, trip_distance):
        """The ride's feature values by column index; None is a missing value."""
        if self.encoding == "categorical":
            row = (as_float(pu), as_float(do), trip_distance if math.isfinite(trip_distance) else None)
            return lambda feature: row[feature] if feature < 3 else None
        present = dict(self.features.vectorize(pu, do, trip_distance))
        return present.get

    def predict(self, pu, do, trip_distance):
        value_of = self.values(pu, do, trip_distance)
        # Tree by tree, from -0.0, as MLOps Lab sums: the same float additions.
        total = -0.0
        for tree in self.trees:
            total += tree.leaf(value_of)
        if self.kind == "gbdt":
            return self.base_score + total
        if not self.trees:
            return self.base_score
        return total / len(self.trees)


def model_from_artifact(artifact):
    """The model model.json holds, told apart by its `kind`."""
    if artifact.get("kind") in TREE_KINDS:
        return TreeModel(artifact)
    return LinearModel(artifact)


def load_model(path):
    with open(path, encoding="utf-8") as file:
        return model_from_artifact(json.load(file))


model = load_model(MODEL_PATH)
app = Flask("duration-prediction")


class BadRequest(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


def type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a number"


def location(ride, field):
    if field not in ride:
        raise BadRequest(f"the field `{field}` is missing")
    value = ride[field]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"the field `{field}` must be an integer zone id, not {json.dumps(value)}")
    return value


def distance(ride):
    if "trip_distance" not in ride:
        raise BadRequest("the field `trip_distance` is missing")
    value = ride["trip_distance"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"the field `trip_distance` must be a number of miles, not {json.dumps(value)}")
    # Compared before converting: a 400-digit integer would overflow a float.
    if value < 0:
        raise BadRequest(f"trip_distance is {value}; a distance cannot be negative", 422)
    if value > MAX_TRIP_DISTANCE_MILES:
        raise BadRequest(
            f"trip_distance is {value} miles; rides longer than {MAX_TRIP_DISTANCE_MILES} miles are refused",
            422,
        )
    return float(value)


def refuse_constant(name):
    # Python's json accepts NaN and Infinity, which are not JSON (and not distances).
    raise ValueError(f"{name} is not a JSON value")


def parse_ride(body):
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}", 413)
    if not body.strip():
        raise BadRequest(f"the request body is empty; send a JSON object like {EXAMPLE}")
    try:
        ride = json.loads(body, parse_constant=refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the request body is not valid JSON: {error}") from None
    if not isinstance(ride, dict):
        raise BadRequest(f"the request body must be a JSON object, not {type_name(ride)}")
    return location(ride, "PULocationID"), location(ride, "DOLocationID"), distance(ride)


@app.get("/ping")
def ping():
    return Response("PONG", mimetype="text/plain")


@app.post("/predict")
def predict():
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return jsonify(error=f"the request body is larger than {MAX_BODY_BYTES} bytes"), 413
    try:
        pu, do, trip_distance = parse_ride(request.get_data(cache=False))
    except BadRequest as error:
        return jsonify(error=error.message), error.status
    duration = model.predict(pu, do, trip_distance)
    if not math.isfinite(duration):
        return jsonify(error="the model gave no finite duration; check model.json"), 500
    answer = {"duration": duration, "model_version": MODEL_VERSION}
    zones = (("PULocationID", pu), ("DOLocationID", do))
    unknown = [f"{name} {zone}" for name, zone in zones if zone not in TLC_ZONES]
    if unknown:
        # Still answered: a zone never seen in training adds nothing to a linear sum and
        # takes the trees' missing-value or "not in the set" branches.
        answer["warning"] = f"{' and '.join(unknown)} is not a TLC zone, so the model knows nothing about it"
    return jsonify(answer)


if __name__ == "__main__":
    # For a quick try only; serve with gunicorn (see README.md).
    app.run(debug=False, host="127.0.0.1", port=9696)
