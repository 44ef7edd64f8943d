"""Holdout accuracy of invspark's forecast stage against statsforecast baselines on real data.

    .venv/bin/python scripts/accuracy_report.py [--datasets frat online_retail carparts] [--write docs/accuracy.md]

For each data set (tables from ``scripts/prepare_real_data.py``): the last ``horizon`` periods are
held out; invspark's ``forecast_bucket`` forecasts them from the history before (the holdout's
planned promotions and prices are given as ``future_promo`` / ``future_price``), and so do
statsforecast's Naive, SeasonalNaive, HistoricAverage, AutoETS, CrostonSBA, TSB and ADIDA on
the same series. Scores over the same series and periods:

- RMSSE: mean over series of the root mean squared error scaled by the M5 denominator of the
  series' training history (mean squared one-step difference from its first sale);
- WAPE: sum |error| / sum actual over all series and periods; bias: sum (forecast - actual) / sum actual;
- sPL: pinball loss averaged over the levels 0.1, 0.5, 0.9, 0.95, 0.99 and over points, divided
  by the series' M5 scale (root), mean over series;
- cov90 / cov99: share of actuals at or below the p90 / p99 forecast.

Peers' quantiles: statsforecast's own intervals (``level=[80, 90, 98]``: p10 = lo-80, p50 =
mean, p90 = hi-80, p95 = hi-90, p99 = hi-98); CrostonSBA, TSB and ADIDA have none, so they get
statsforecast's ``ConformalIntervals(h=horizon, n_windows=2)``. statsforecast cannot take
missing values: peers see each series from its first sale with missing periods as 0, and a
series shorter than ``2 * horizon + 1`` periods padded with leading zeros.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
# appended, not inserted: an explicit PYTHONPATH (another checkout) still wins, and this
# checkout wins over the virtual environment's editable install
sys.path.append(str(Path(__file__).resolve().parent.parent))

from prepare_real_data import all_tables  # noqa: E402

from invspark.kernels import forecast_metrics  # noqa: E402
from invspark.stages.forecast import ForecastSettings, forecast_bucket  # noqa: E402

LEVELS = (0.1, 0.5, 0.9, 0.95, 0.99)
QUANTILE_COLUMNS = ("p10", "p50", "p90", "p95", "p99")


@dataclass(frozen=True)
class DatasetSpec:
    frequency: str
    horizon: int
    backtest_step: int
    closed: str | None  # "location": a location without any sale that period is closed; "global": no sale anywhere
    max_series: int | None = None  # fixed-seed random subsample
    seed: int = 42


SPECS = {
    "frat": DatasetSpec(frequency="W", horizon=13, backtest_step=13, closed="location"),
    "online_retail": DatasetSpec(frequency="D", horizon=28, backtest_step=28, closed="global", max_series=2000),
    "carparts": DatasetSpec(frequency="M", horizon=12, backtest_step=6, closed=None),
}


def period_grid(dates: pd.Series, frequency: str) -> np.ndarray:
    """Sorted period dates: every day for daily data, the data's own dates for weekly / monthly."""
    dates = pd.to_datetime(dates)
    if frequency == "D":
        return pd.date_range(dates.min(), dates.max(), freq="D").to_numpy()
    return np.sort(dates.unique().to_numpy())


def build_panel(tables: dict[str, pd.DataFrame], spec: DatasetSpec):
    """Series panel of the history before the holdout, the holdout actuals, and the history matrix.

    Returns ``(panel, actual (n, H), history (n, T))``; vectorized scatters, no loop per series.
    """
    sales = tables["sales"]
    grid = period_grid(sales["date"], spec.frequency)
    n_total = len(grid)
    T, H = n_total - spec.horizon, spec.horizon
    keys = sales[["sku_id", "location_id"]].drop_duplicates().sort_values(["sku_id", "location_id"]).reset_index(drop=True)
    key_index = pd.MultiIndex.from_frame(keys)
    rows = key_index.get_indexer(pd.MultiIndex.from_frame(sales[["sku_id", "location_id"]]))
    cols = np.searchsorted(grid, pd.to_datetime(sales["date"]).to_numpy())
    n = len(keys)

    units = np.zeros((n, n_total))
    np.add.at(units, (rows, cols), sales["units"].to_numpy(dtype=float))
    first = np.full(n, n_total)
    np.minimum.at(first, rows, cols)
    started = np.arange(n_total)[None, :] >= first[:, None]
    units = np.where(started, units, np.nan)
    location_codes, locations = pd.factorize(keys["location_id"])
    if spec.closed == "location":
        open_periods = np.zeros((len(locations), n_total), dtype=bool)
        open_periods[location_codes[rows], cols] = True
        units = np.where(open_periods[location_codes], units, np.nan)
    elif spec.closed == "global":
        open_periods = np.zeros(n_total, dtype=bool)
        open_periods[cols] = True
        units = np.where(open_periods[None, :], units, np.nan)

    price = np.full((n, n_total), np.nan)
    promo = np.zeros((n, n_total))
    if "promotions" in tables:
        plan = tables["promotions"]
        plan_rows = key_index.get_indexer(pd.MultiIndex.from_frame(plan[["sku_id", "location_id"]]))
        plan_cols = np.searchsorted(grid, pd.to_datetime(plan["date"]).to_numpy())
        price[plan_rows, plan_cols] = plan["price"].to_numpy(dtype=float)
        promo[plan_rows, plan_cols] = plan["promo"].to_numpy(dtype=float)
        base = np.full((n, n_total), np.nan)
        base[plan_rows, plan_cols] = plan["base_price"].to_numpy(dtype=float)
        # weeks without a row: the regular (base) price, carried forward -- never NaN, so that a
        # missing price cannot reveal a week without sales
        base = pd.DataFrame(base).ffill(axis=1).bfill(axis=1).to_numpy()
        price = np.where(np.isnan(price), base, price)

    has_history = first < T
    keep = np.flatnonzero(has_history)
    if spec.max_series is not None and keep.size > spec.max_series:
        keep = np.sort(np.random.default_rng(spec.seed).choice(keep, spec.max_series, replace=False))
    keys, units, price, promo, first = keys.iloc[keep].reset_index(drop=True), units[keep], price[keep], promo[keep], first[keep]
    location_codes = location_codes[keep]

    items = tables.get("items", pd.DataFrame({"sku_id": []}))
    category = keys["sku_id"].map(items.set_index("sku_id")["category"]) if "category" in items else pd.Series([None] * len(keys))
    history = units[:, :T]
    # ABC by share of history value (units x price, units where no price): A 80%, B next 15%, C rest
    value = np.nansum(history * np.where(np.isnan(price[:, :T]), 1.0, price[:, :T]), axis=1)
    order = np.argsort(-value)
    share = np.empty(len(value))
    share[order] = np.cumsum(value[order]) / max(value.sum(), 1e-12)
    abc = np.where(share <= 0.8, "A", np.where(share <= 0.95, "B", "C"))
    # category x location mean units of established series (first sale 26+ periods before the origin)
    group_codes, _ = pd.factorize(pd.Series(category.fillna("?").astype(str).to_numpy()) + "|" + keys["location_id"])
    established = (first <= T - 26) & category.notna().to_numpy()
    totals = np.zeros((group_codes.max() + 1, T))
    counts = np.zeros((group_codes.max() + 1, T))
    np.add.at(totals, group_codes[established], np.nan_to_num(history[established]))
    np.add.at(counts, group_codes[established], (~np.isnan(history[established])).astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        category_mean = np.where(counts > 0, totals / counts, np.nan)[group_codes]  # (n, T)

    panel = pd.DataFrame({
        "sku_id": keys["sku_id"], "location_id": keys["location_id"], "bucket": 0,
        "units": list(history), "censored": list(np.zeros_like(history, dtype=bool)),
        "price": list(price[:, :T]), "promo": list(promo[:, :T]),
        "future_price": list(price[:, T:]), "future_promo": list(promo[:, T:]),
        "category": category.to_numpy(dtype=object), "unit_cost": np.nan, "unit_price": np.nan,
        "lead_time_mean": 1.0, "lead_time_std": 0.0, "review_period": 1.0,
        "abc": abc, "category_mean_units": list(category_mean),
    })
    return panel, units[:, T:], history


def run_invspark(panel: pd.DataFrame, spec: DatasetSpec, overrides: dict, bucket_size: int = 5000) -> tuple[np.ndarray, pd.DataFrame]:
    """invspark's quantiles ``(5, n, H)`` (with the mean as a 6th) and the stage output frame."""
    settings = ForecastSettings(frequency=spec.frequency, horizon=spec.horizon, n_periods=len(panel["units"].iloc[0]),
                                **{"backtest_step": spec.backtest_step, **overrides})  # --set may override the step
    frames = [forecast_bucket(panel.iloc[start:start + bucket_size].reset_index(drop=True), settings)
              for start in range(0, len(panel), bucket_size)]  # buckets, as the Spark job would
    out = pd.concat(frames, ignore_index=True)
    stacked = np.stack([np.stack(out[c].to_numpy()) for c in (*QUANTILE_COLUMNS, "mean")])
    return stacked, out


def run_statsforecast(history: np.ndarray, spec: DatasetSpec) -> dict[str, np.ndarray]:
    """statsforecast peers: ``{name: (6, n, H)}`` = p10, p50, p90, p95, p99, mean."""
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, TSB, AutoETS, CrostonSBA, HistoricAverage, Naive, SeasonalNaive
    from statsforecast.utils import ConformalIntervals

    n, T = history.shape
    H = spec.horizon
    season = {"D": 7, "W": 52, "M": 12}[spec.frequency]
    conformal = ConformalIntervals(h=H, n_windows=2)
    models = [Naive(), SeasonalNaive(season_length=season), HistoricAverage(), AutoETS(season_length=season),
              CrostonSBA(prediction_intervals=conformal), TSB(alpha_d=0.1, alpha_p=0.1, prediction_intervals=conformal),
              ADIDA(prediction_intervals=conformal)]
    start = np.argmax(~np.isnan(history), axis=1)
    start = np.minimum(start, T - (2 * H + 1))  # pad short series with leading zeros
    mask = np.arange(T)[None, :] >= start[:, None]
    ids = np.repeat(np.arange(n), mask.sum(axis=1))
    ds = np.nonzero(mask)[1]
    y = np.nan_to_num(history[mask], nan=0.0)
    frame = pd.DataFrame({"unique_id": ids, "ds": ds, "y": y})
    result = StatsForecast(models=models, freq=1, n_jobs=1).forecast(df=frame, h=H, level=[80, 90, 98])
    result = result.sort_values(["unique_id", "ds"])
    out = {}
    for model in ("Naive", "SeasonalNaive", "HistoricAverage", "AutoETS", "CrostonSBA", "TSB", "ADIDA"):
        columns = [f"{model}-lo-80", model, f"{model}-hi-80", f"{model}-hi-90", f"{model}-hi-98", model]
        values = np.stack([result[c].to_numpy().reshape(n, H) for c in columns])  # (6, n, H)
        out[model] = np.maximum(values, 0.0)
    return out


def score(actual: np.ndarray, forecasts: np.ndarray, scale2: np.ndarray) -> dict[str, float]:
    """Holdout scores of one method: ``forecasts`` ``(6, n, H)`` = p10..p99, mean."""
    mean = forecasts[5]
    quantiles = forecasts[:5]
    pinball = forecast_metrics.mean_quantile_loss(actual, quantiles, LEVELS)
    ok = ~np.isnan(actual)
    return {
        "RMSSE": float(np.nanmean(forecast_metrics.rmsse(actual, mean, scale2))),
        "WAPE": float(np.nansum(np.abs(mean - actual)) / np.nansum(actual)),
        "bias": float(np.nansum(np.where(ok, mean - actual, 0.0)) / np.nansum(actual)),
        "sPL": float(np.nanmean(pinball / np.sqrt(scale2))),
        "cov90": float((actual <= quantiles[2])[ok].mean()),
        "cov99": float((actual <= quantiles[4])[ok].mean()),
    }


def evaluate(dataset: str, tables, spec: DatasetSpec, cache_dir: str | None = None, overrides: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """Score invspark and the peers on one data set; peers' forecasts are cached in ``cache_dir``
    (they do not depend on invspark's settings; delete the folder to recompute them)."""
    panel, actual, history = build_panel(tables, spec)
    started = time.perf_counter()
    invspark_forecasts, output = run_invspark(panel, spec, overrides or {})
    invspark_seconds = time.perf_counter() - started
    cache = Path(cache_dir) / f"{dataset}_peers_{spec.horizon}_{history.shape[0]}x{history.shape[1]}.npz" if cache_dir else None
    if cache is not None and cache.exists():
        stored = np.load(cache)
        peers = {name: stored[name] for name in stored.files if name != "seconds"}
        peer_seconds = float(stored["seconds"])
    else:
        started = time.perf_counter()
        peers = run_statsforecast(history, spec)
        peer_seconds = time.perf_counter() - started
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, seconds=peer_seconds, **peers)
    scale2 = forecast_metrics.m5_scale(history)
    scored = np.isfinite(scale2) & (~np.isnan(actual)).any(axis=1)
    rows = {"invspark": score(actual[scored], invspark_forecasts[:, scored], scale2[scored])}
    for name, values in peers.items():
        rows[name] = score(actual[scored], values[:, scored], scale2[scored])
    table = pd.DataFrame(rows).T
    info = {
        "series": len(panel), "scored": int(scored.sum()), "periods": history.shape[1], "horizon": spec.horizon,
        "invspark_seconds": invspark_seconds, "statsforecast_seconds": peer_seconds,
        "models": output["model"].value_counts().to_dict(), "segments": output["segment"].nunique(),
    }
    return table, info


def markdown(results: dict[str, tuple[pd.DataFrame, dict]]) -> str:
    lines = []
    for dataset, (table, info) in results.items():
        peers = table.drop(index="invspark")
        best = peers["RMSSE"].idxmin()
        gain = 1 - table.loc["invspark", "RMSSE"] / peers.loc[best, "RMSSE"]
        lines.append(f"### {dataset}\n")
        lines.append(f"{info['series']:,} series ({info['scored']:,} scored), {info['periods']} training periods, "
                     f"horizon {info['horizon']}; invspark {info['invspark_seconds']:.0f} s, statsforecast "
                     f"{info['statsforecast_seconds']:.0f} s (one process each). invspark's mean RMSSE is "
                     f"{abs(gain):.1%} {'below' if gain >= 0 else 'above'} the best peer's ({best}).\n")
        lines.append("| method | RMSSE | WAPE | bias | sPL | cov90 | cov99 |")
        lines.append("|---|---|---|---|---|---|---|")
        for name, row in table.iterrows():
            lines.append(f"| {name} | {row['RMSSE']:.3f} | {row['WAPE']:.3f} | {row['bias']:+.3f} | {row['sPL']:.3f} | "
                         f"{row['cov90']:.3f} | {row['cov99']:.3f} |")
        chosen = ", ".join(f"{k} {v}" for k, v in sorted(info["models"].items(), key=lambda kv: -kv[1]))
        lines.append(f"\nModels chosen by invspark ({info['segments']} segments): {chosen}.\n")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--datasets", nargs="+", default=list(SPECS), choices=list(SPECS))
    parser.add_argument("--write", type=Path, default=None, help="write the markdown tables to this file")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="ForecastSettings overrides for experiments, e.g. champion_threshold=0.05 (YAML values)")
    parser.add_argument("--peer-cache", default="build/accuracy_cache", help="folder for statsforecast's forecasts ('' = none)")
    args = parser.parse_args()
    overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    overrides = {key: tuple(value) if isinstance(value, list) else value for key, value in overrides.items()}
    tables, _ = all_tables(args.data)
    results = {}
    for dataset in args.datasets:
        started = time.perf_counter()
        results[dataset] = evaluate(dataset, tables[dataset], SPECS[dataset], args.peer_cache or None, overrides)
        print(f"{dataset}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        print(markdown({dataset: results[dataset]}), flush=True)
    if args.write:
        args.write.write_text(markdown(results))


if __name__ == "__main__":
    main()
