"""An obvious pandas loop for invspark.spark.lead_times.estimate_lead_times (one target at a time).

Quantiles follow Spark's percentile_approx on small groups: the smallest sample value v with at
least a fraction q of the samples <= v, i.e. sorted(values)[ceil(q n) - 1].
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

LEVEL_KEYS = (("sku_location", ("source_id", "sku_id", "location_id")),
              ("source_location", ("source_id", "location_id")),
              ("source", ("source_id",)))


def sample_quantile(values, q):
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def estimate(receipts: pd.DataFrame, period_days, min_samples, default_days, default_std_days,
             threshold=3.5, min_spread_days=1.0, min_outlier_samples=5) -> pd.DataFrame:
    """`receipts`: sku_id, location_id, source_id, days. One output row per (sku, location)."""
    receipts = receipts[receipts["days"] >= 0]
    rows = []
    for (sku, location), pair in receipts.groupby(["sku_id", "location_id"]):
        counts = pair.groupby("source_id").size()
        source = sorted(counts.index, key=lambda s: (-counts[s], s))[0]
        target = {"sku_id": sku, "location_id": location, "source_id": source}
        result = None
        for level, keys in LEVEL_KEYS:
            mask = np.ones(len(receipts), dtype=bool)
            for key in keys:
                mask &= (receipts[key] == target[key]).to_numpy()
            days = receipts.loc[mask, "days"].tolist()
            if not days:
                continue
            median = sample_quantile(days, 0.5)
            mad = sample_quantile([abs(d - median) for d in days], 0.5)
            spread = max(1.4826 * mad, min_spread_days)
            outlier = [len(days) >= min_outlier_samples and abs(d - median) > threshold * spread
                       for d in days]
            kept = [d for d, o in zip(days, outlier) if not o]
            if len(kept) >= min_samples:
                result = dict(
                    lead_time_mean=np.mean(kept) / period_days,
                    lead_time_std=(np.std(kept, ddof=1) if len(kept) > 1 else 0.0) / period_days,
                    lead_time_samples=len(kept), lead_time_level=level,
                    lead_time_outliers=sum(outlier),
                    lead_time_p50=sample_quantile(kept, 0.5) / period_days,
                    lead_time_p90=sample_quantile(kept, 0.9) / period_days,
                    lead_time_max=max(kept) / period_days)
                break
        if result is None:
            d = default_days / period_days
            result = dict(lead_time_mean=d, lead_time_std=default_std_days / period_days,
                          lead_time_samples=0, lead_time_level="default", lead_time_outliers=0,
                          lead_time_p50=d, lead_time_p90=d, lead_time_max=d)
        rows.append({**target, **result})
    return pd.DataFrame(rows)
