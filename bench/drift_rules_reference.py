"""Evidently 0.7.23 values for the drift report's rule tests
(crates/mlops-core/src/drift/report.rs, `mod tests`).

Each case builds small deterministic samples from integer formulas (the Rust test builds
the same ones) and prints the test Evidently picks and its score.
Run with a venv holding evidently==0.7.23 and pandas<3.
"""
import warnings

import pandas as pd
from evidently.legacy.metrics import ColumnDriftMetric
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report

warnings.filterwarnings("ignore")


def sample(n, a, b, m, scale, shift=0.0):
    return [((i * a + b) % m) / scale + shift for i in range(n)]


def ints(n, f):
    return [float(f(i)) for i in range(n)]


def labels(n, f):
    return [f"z{f(i)}" for i in range(n)]


CASES = {
    # name: (reference, current, numerical?, stattest override)
    "ks_small_reference": (sample(300, 37, 5, 101, 10), sample(400, 53, 7, 97, 10, 0.3), True, None),
    "chi_numbers_4_values": (ints(500, lambda i: i % 4), ints(450, lambda i: (i % 5) % 4), True, None),
    "z_numbers_2_values": (ints(800, lambda i: i % 2), ints(300, lambda i: int(i % 3 == 0)), True, None),
    "chi_categories": (labels(600, lambda i: i % 7), labels(500, lambda i: (i % 9) % 7), False, None),
    "z_categories": (labels(700, lambda i: i % 2), labels(650, lambda i: int(i % 3 == 0)), False, None),
    "z_same_single_value": (ints(100, lambda i: 4), ints(50, lambda i: 4), True, None),
    "js_numbers_few_values": (ints(3000, lambda i: i % 5), ints(2000, lambda i: (i % 7) % 5), True, None),
    "wasserstein_large": (sample(5000, 37, 5, 1009, 100), sample(3000, 41, 3, 997, 100, 0.5), True, None),
    "wasserstein_constant_reference": ([2.5] * 1500, ints(1200, lambda i: i % 7), True, None),
    "js_unseen_categories": (labels(2500, lambda i: (i * 13 + 3) % 30), labels(2000, lambda i: (i * 17 + 1) % 40), False, None),
    "psi_numbers": (sample(5000, 37, 5, 1009, 100), sample(3000, 41, 3, 997, 100, 0.5), True, "psi"),
    "psi_categories": (labels(2500, lambda i: (i * 13 + 3) % 30), labels(2000, lambda i: (i * 17 + 1) % 40), False, "psi"),
    "ks_override_large": (sample(5000, 37, 5, 1009, 100), sample(3000, 41, 3, 997, 100, 0.5), True, "ks"),
}

for name, (reference, current, numerical, stattest) in CASES.items():
    mapping = ColumnMapping(
        numerical_features=["x"] if numerical else [],
        categorical_features=[] if numerical else ["x"],
    )
    metric = ColumnDriftMetric(column_name="x", stattest=stattest)
    report = Report(metrics=[metric])
    report.run(reference_data=pd.DataFrame({"x": reference}), current_data=pd.DataFrame({"x": current}), column_mapping=mapping)
    result = report.as_dict()["metrics"][0]["result"]
    print(f'("{name}", "{result["stattest_name"]}", {float(result["drift_score"])!r}, {result["drift_detected"]}),')
