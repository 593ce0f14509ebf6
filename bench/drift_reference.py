"""SciPy 1.17.1 / NumPy 2.4 reference values for the drift statistics
(crates/mlops-core/src/drift/stats.rs, `mod tests`).

Every sample comes from a 64-bit linear congruential generator that the Rust tests
implement identically (`Lcg`), so both sides work on bit-identical inputs and no data
file is needed. The printed values are pasted into the tests with `repr` precision.

Run with a venv holding scipy==1.17.1 and numpy 2.4:
    python bench/drift_reference.py
"""
import math

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

MASK = (1 << 64) - 1


class Lcg:
    """state ← state · 6364136223846793005 + 1442695040888963407 (mod 2⁶⁴); a unit
    value is the top 53 bits / 2⁵³."""

    def __init__(self, seed):
        self.state = seed & MASK

    def unit(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.state >> 11) / 9007199254740992.0


def continuous(seed, count, scale, shift):
    """count values u·scale + shift."""
    rng = Lcg(seed)
    return [rng.unit() * scale + shift for _ in range(count)]


def stepped(seed, count, steps, shift):
    """count values floor(u·steps)/4 + shift: many ties."""
    rng = Lcg(seed)
    return [math.floor(rng.unit() * steps) / 4.0 + shift for _ in range(count)]


def show(name, value):
    if isinstance(value, (list, tuple, np.ndarray)):
        print(f"{name} = [{', '.join(repr(float(v)) if not isinstance(v, (int, np.integer)) else str(int(v)) for v in value)}]")
    else:
        print(f"{name} = {float(value)!r}")


def main():
    print(f"# scipy {scipy.__version__}, numpy {np.__version__}")

    print("\n# ks_2samp: statistic, p-value (exact unless noted)")
    ks_cases = {
        "ks_37_53": (continuous(1, 37, 1.0, 0.0), continuous(2, 53, 1.0, 0.25)),
        "ks_300_1000_ties": (stepped(3, 300, 40, 0.0), stepped(4, 1000, 40, 0.5)),
        "ks_200_200": (continuous(5, 200, 1.0, 0.0), continuous(6, 200, 1.0, 0.1)),
        "ks_400_600_small_p": (continuous(7, 400, 1.0, 0.0), continuous(8, 600, 1.0, 0.16)),
        "ks_250_450_p_1e5": (continuous(18, 250, 1.0, 0.0), continuous(19, 450, 1.0, 0.12)),
        "ks_1000_10000": (continuous(9, 1000, 1.0, 0.0), continuous(10, 10000, 1.0, 0.03)),
        "ks_1000_10000_far_apart": (continuous(1, 1000, 1.0, 0.0), continuous(2, 10000, 1.0, 0.5)),
        "ks_12000_9000_asymp": (continuous(11, 12000, 1.0, 0.0), continuous(12, 9000, 1.0, 0.02)),
    }
    for name, (a, b) in ks_cases.items():
        result = stats.ks_2samp(a, b)
        show(f"{name}.statistic", result.statistic)
        show(f"{name}.p_value", result.pvalue)

    print("\n# kstwo.sf(x, n) by branch of scipy.stats._ksstats._kolmogn")
    kstwo_cases = [
        ("ruben_gambino_low_small_n", 5, 0.19),
        ("ruben_gambino_high", 20, 0.96),
        ("smirnov_x_over_half", 30, 0.55),
        ("small_n_durbin", 100, 0.08),
        ("small_n_pomeranz_a", 100, 0.15),
        ("small_n_pomeranz_b", 37, 0.25),
        ("small_n_pomeranz_c", 140, 0.16),
        ("small_n_miller", 100, 0.25),
        ("two_smirnov_a", 1000, 0.06),
        ("two_smirnov_b", 35020, 0.012),
        ("two_smirnov_tiny", 35020, 0.05),
        ("two_smirnov_huge_n", 2_000_000, 0.0015),
        ("durbin_a", 1000, 0.01),
        ("durbin_b", 20000, 0.0015),
        ("pelz_good_a", 5000, 0.015),
        ("pelz_good_b", 200_000, 0.001),
        ("pelz_good_c", 200_000, 0.0025),
    ]
    for name, n, x in kstwo_cases:
        show(f"{name} (n={n}, x={x!r})", stats.kstwo.sf(x, n))

    print("\n# kstwo.cdf(x, n) where the sf is too close to 1 to check the method itself")
    for name, n, x in [
        ("durbin_a", 1000, 0.01),
        ("durbin_b", 20000, 0.0015),
        ("durbin_c", 100_000, 0.0005),
        ("small_n_durbin", 100, 0.08),
        ("small_n_pomeranz_a", 100, 0.15),
        ("pelz_good_a", 5000, 0.015),
        ("pelz_good_d", 150_000, 0.0012),
    ]:
        show(f"{name} cdf (n={n}, x={x!r})", stats.kstwo.cdf(x, n))

    print("\n# scipy.special.smirnov(n, x)")
    for n, x in [(2, 0.3), (10, 0.05), (10, 0.35), (10, 0.95), (100, 0.1), (1000, 0.03), (35020, 0.012),
                 (500_000, 0.001), (2_000_000, 0.0005)]:
        show(f"smirnov({n}, {x!r})", scipy.special.smirnov(n, x))

    # The golden case: green taxi trip_distance, January vs February 2021.
    jan = pq_column("/work/shared/data/green_tripdata_2021-01.parquet")
    feb = pq_column("/work/shared/data/green_tripdata_2021-02.parquet")
    if jan is not None:
        result = stats.ks_2samp(jan, feb)
        larger, smaller = sorted([float(len(jan)), float(len(feb))], reverse=True)
        effective = np.round(larger * smaller / (larger + smaller))
        print(f"# green trip_distance 2021-01 vs 02: n1={len(jan)} n2={len(feb)} en={effective!r}")
        show("golden.statistic", result.statistic)
        show("golden.p_value", result.pvalue)
        show("golden kstwo.sf(statistic, en)", stats.kstwo.sf(result.statistic, effective))

    print("\n# chisquare, z-test, wasserstein, std, jensenshannon, psi")
    observed = [float(v) for v in (18, 25, 31, 12, 14)]
    expected_raw = [20.0, 20.0, 25.0, 15.0, 20.0]
    expected = [e * sum(observed) / sum(expected_raw) for e in expected_raw]
    show("chisquare.expected", expected)
    show("chisquare.p_value", stats.chisquare(observed, expected).pvalue)

    def z_test(h1, n1, h2, n2):
        p1, p2 = h1 / n1, h2 / n2
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        return 2 * (1 - stats.norm.cdf(np.abs(z)))

    show("z_test(30,100,45,120)", z_test(30.0, 100.0, 45.0, 120.0))
    show("z_test(480,1000,560,1000)", z_test(480.0, 1000.0, 560.0, 1000.0))
    with np.errstate(all="ignore"):
        show("z_test(0,10,0,20) (all in one category)", z_test(0.0, 10.0, 0.0, 20.0))

    a = sorted(continuous(13, 500, 3.0, 0.0))
    b = sorted(stepped(14, 350, 40, 0.2))
    show("wasserstein(500 continuous, 350 stepped)", stats.wasserstein_distance(a, b))

    values = continuous(15, 1000, 1.0, 1e6)
    show("std(1000 values near 1e6)", np.std(np.array(values)))

    p = [0.1, 0.0, 0.25, 0.3, 0.35]
    q = [0.2, 0.2, 0.0, 0.3, 0.3]
    show("jensenshannon(p with zeros)", distance.jensenshannon(p, q))
    counts_p = [3.0, 7.0, 11.0, 0.0, 5.0, 2.0, 9.0, 1.0, 4.0, 6.0]
    counts_q = [5.0, 6.0, 8.0, 2.0, 5.0, 0.0, 12.0, 3.0, 3.0, 4.0]
    show("jensenshannon(counts, unnormalised)", distance.jensenshannon(counts_p, counts_q))

    ref = np.array([0.05, 0.15, 0.3, 0.25, 0.2, 0.05])
    cur = np.array([0.1, 0.1, 0.25, 0.3, 0.15, 0.1])
    show("psi", np.sum((ref - cur) * np.log(ref / cur)))

    print("\n# histogram_bin_edges(sturges) and histogram")
    a = continuous(16, 300, 7.3, -2.1)
    b = continuous(17, 200, 6.1, -1.4)
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
    show("sturges.edges", edges)
    probes = list(edges) + [a[0], b[0], -2.2, 5.3, float(np.nextafter(edges[3], -np.inf))]
    show("histogram(edges + probes).counts", np.histogram(probes, edges)[0])
    show("histogram(a).counts", np.histogram(a, edges)[0])
    show("sturges.edges(all 3.0)", np.histogram_bin_edges([3.0, 3.0, 3.0], bins="sturges"))
    tenths = np.linspace(0.0, 1.0, 11)
    show("tenths", tenths)
    probes = [0.1, 0.2, 0.3, 0.30000000000000004, 0.6, 0.7, 0.7000000000000001, 0.9, 1.0]
    show("histogram(tenths probes).counts", np.histogram(probes, tenths)[0])


def pq_column(path):
    try:
        import pandas as pd

        return pd.read_parquet(path, columns=["trip_distance"])["trip_distance"].to_numpy()
    except Exception:  # the golden case is optional
        return None


if __name__ == "__main__":
    main()
