"""Business-outcome backtest report: invspark's policies against static_cover and mae_normal.

    .venv/bin/python scripts/outcome_report.py [--datasets generated frat carparts online_retail] [--write docs/outcomes.md]

Every data set goes through ``invspark.stages.outcome_backtest.simulate_families`` bucket by
bucket (as the Spark stage would, in one process): forecast at the holdout origin, invspark's
RS at several CSL targets, the static cover rule at several cover weeks, the MAE-normal recipe
at the same CSL targets, simulated on the realised holdout demand (backorders; MOQ and case
pack where the data has them). Reported per segment: the service-versus-inventory curves and,
at invspark's achieved fill rate, the baselines' stock (``inventory at equal service``) and, at
invspark's stock, the baselines' stockout periods (``stockouts at equal inventory``).

Data sets:

- ``generated``: ``invspark.kernels.synthetic`` blocks (weekly; smooth / erratic / intermittent
  / lumpy Bernoulli x negative-binomial demand with season, trend, price and promotions), built
  in-process (no Spark). History = the observed (censored) sales under the missing-period rule
  of CONTRACTS.md (a discontinued item sells zero after its last row); the holdout is the *true*
  demand of the generator's planned periods, so achieved service is measured against what
  customers really wanted. Lead time 1 week (the generator's), review period 1 or 2 per store.
  Run twice: with the items' MOQ and case packs, and without (``calibration``: checks that the
  achieved CSL lands on the target).
- ``frat`` / ``carparts`` / ``online_retail``: ``scripts/prepare_real_data.py`` tables through
  ``scripts/accuracy_report.build_panel`` (the same panel as the accuracy report; online_retail
  its fixed-seed subsample, ``SPECS["online_retail"].max_series`` series). No receipts in these data: lead time 1 period
  (daily: 3 days, std 1), review period 1; no MOQ or case pack. The holdout is the observed
  sales (no stock data: never censored).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
# appended, not inserted: an explicit PYTHONPATH (another checkout) still wins, and this
# checkout wins over the virtual environment's editable install
sys.path.append(str(Path(__file__).resolve().parent.parent))

from invspark.kernels import synthetic as syn  # noqa: E402
from invspark.stages.outcome_backtest import (  # noqa: E402
    OutcomeBacktestSettings,
    frontier_comparison,
    outcome_table,
    service_intervals,
    simulate_families,
)

BUCKET_SIZE = 2000
COMPARE_TARGETS = (0.9, 0.95, 0.98)


def _abc(history: np.ndarray, price: np.ndarray) -> np.ndarray:
    """ABC by share of history value (units x price): A 80%, B next 15%, C the rest."""
    value = np.nansum(history * np.where(np.isnan(price), 1.0, price), axis=1)
    order = np.argsort(-value)
    share = np.empty(len(value))
    share[order] = np.cumsum(value[order]) / max(value.sum(), 1e-12)
    return np.where(share <= 0.8, "A", np.where(share <= 0.95, "B", "C"))


def generated_panel(n_series: int, n_history: int, holdout: int, seed: int, targets: tuple,
                    service_level_type: str = "csl", with_service: bool = False):
    """Panel of ``n_history + holdout`` periods (holdout = true future demand), each series' demand
    class, and the order-up-to paths ``(len(targets), n, holdout)`` of the RS policy that knows the
    generator's demand law, from every holdout period: for CSL targets each target's quantile of the
    true demand over lead time (1 week) + review period (``syn.interval_demand_quantiles``), for
    fill-rate targets the smallest level whose true-law fill rate meets the target
    (``syn.interval_demand_fill_rate_levels``). With ``with_service`` a fourth value, what pooling
    the reference per segment needs (``outcome_backtest.pooled_reference``): the true law's service
    at those levels and one unit below (P(D <= S) or the fill rate) and each series' pool weight
    (cycles per period, or its true mean demand per period), each ``(len(targets), n, holdout)``;
    else None."""
    plan = syn.GeneratorPlan(n_series=n_series, n_periods=n_history, frequency="W", seed=seed, n_planned=holdout,
                             block_size=BUCKET_SIZE)
    frames, classes, reference, service = [], [], [], []
    for block_id in range(plan.n_blocks):  # blocks of 2,000 series
        block = syn.generate_series_block(plan, block_id)
        T, H = n_history, holdout
        # the missing-period rule of CONTRACTS.md, as ingest applies it: missing before the first
        # row (launch) and where the store was closed; a discontinued item's later periods are
        # zero sales, not missing
        launched = np.cumsum(block.alive[:, :T], axis=1) > 0
        observed = launched & ~block.closed[:, :T]
        history = np.where(observed, np.where(block.alive[:, :T], block.units[:, :T], 0.0), np.nan)  # (n, T)
        censored = observed & block.alive[:, :T] & (block.on_hand[:, :T] == 0)
        future = np.where(block.alive[:, T:T + H], block.demand[:, T:T + H], 0.0)  # (n, H) true demand
        units = np.concatenate([history, future], axis=1)  # (n, T + H)
        price = block.price[:, :T + H]
        promo = block.promo[:, :T + H].astype(float)
        item = syn.item_attributes(plan, block.sku)
        store = syn.store_attributes(plan, block.store)
        n = block.series_index.size
        frames.append(pd.DataFrame({
            "sku_id": syn.sku_ids(plan, block.sku), "location_id": syn.store_ids(plan, block.store),
            "bucket": block_id, "units": list(units),
            "censored": list(np.concatenate([censored, np.zeros((n, H), dtype=bool)], axis=1)),
            "price": list(price), "promo": list(promo),
            "future_price": list(np.full((n, H), np.nan)), "future_promo": list(np.full((n, H), np.nan)),
            "category": item["category"], "unit_cost": item["unit_cost"], "unit_price": item["unit_price"],
            "lead_time_mean": 1.0, "lead_time_std": 0.0, "review_period": store["review_period"],
            "abc": _abc(history, price[:, :T]), "category_mean_units": list(np.full((n, T + H), np.nan)),
            "holding_cost_rate": item["holding_cost_rate"], "ordering_cost": item["ordering_cost"],
            "case_pack": item["case_pack"].astype(float), "moq": item["moq"],
        }))
        classes.append(np.asarray(syn.DEMAND_CLASSES)[block.demand_class])
        review = store["review_period"].astype(np.int64)
        if service_level_type == "fill_rate" and with_service:
            levels, at, below, review_demand = syn.interval_demand_fill_rate_levels(
                block, T, H, np.ones(n, dtype=np.int64), review, targets, seed=seed, with_fill=True)
            service.append((at, below, np.broadcast_to(review_demand / review[:, None], levels.shape)))  # demand per period
        elif service_level_type == "fill_rate":
            levels = syn.interval_demand_fill_rate_levels(block, T, H, np.ones(n, dtype=np.int64), review, targets,
                                                          seed=seed)
        elif with_service:
            levels, at, below = syn.interval_demand_quantiles(block, T, H, 1 + review, targets, seed=seed, with_cdf=True)
            dead = (levels == 0) & (at >= 1.0)  # no demand over the interval: no part in the pool
            service.append((at, below, np.where(dead, 0.0, 1.0 / review[None, :, None])))  # cycles per period
        else:
            levels = syn.interval_demand_quantiles(block, T, H, 1 + review, targets, seed=seed)
        reference.append(levels)
    pooled = tuple(np.concatenate(parts, axis=1) for parts in zip(*service)) if service else None
    return pd.concat(frames, ignore_index=True), np.concatenate(classes), np.concatenate(reference, axis=1), pooled


def real_panel(dataset: str, data: Path, holdout: int) -> tuple[pd.DataFrame, str]:
    """The accuracy report's panel of one real data set, rebuilt with ``holdout`` periods held out."""
    from accuracy_report import SPECS, build_panel
    from prepare_real_data import all_tables

    tables, _ = all_tables(data)
    spec = replace(SPECS[dataset], horizon=holdout)
    panel, actual, history = build_panel(tables[dataset], spec)
    full = panel.copy()
    full["units"] = list(np.concatenate([history, actual], axis=1))
    full["censored"] = list(np.zeros(actual.shape[:1] + (history.shape[1] + holdout,), dtype=bool))
    for name, future in (("price", "future_price"), ("promo", "future_promo")):
        full[name] = list(np.concatenate([np.stack(panel[name].to_numpy()), np.stack(panel[future].to_numpy())], axis=1))
    category_mean = np.stack(panel["category_mean_units"].to_numpy())
    full["category_mean_units"] = list(np.concatenate([category_mean, np.full((len(panel), holdout), np.nan)], axis=1))
    if spec.frequency == "D":
        full["lead_time_mean"], full["lead_time_std"] = 3.0, 1.0
    full["bucket"] = np.arange(len(full)) // BUCKET_SIZE
    return full, spec.frequency


REAL = {  # holdout, forecast horizon, backtest step
    "frat": (26, 13, 13),
    "carparts": (12, 12, 6),
    "online_retail": (56, 28, 28),
}


def run_dataset(panel: pd.DataFrame, settings: OutcomeBacktestSettings, reference: np.ndarray | None = None,
                reference_service: tuple | None = None) -> tuple[pd.DataFrame, int, float]:
    """Every bucket through ``simulate_families``; ``reference`` ``(k, n, H)``: the true-law policy's
    order-up-to paths of the panel's rows (generated data only), ``reference_service`` the true law's
    service at them and one unit below and the pool weights (needed to pool it per segment)."""
    started = time.perf_counter()
    frames, skipped = [], 0
    for bucket, frame in panel.groupby("bucket"):  # buckets, as the Spark job would
        rows = frame.index.to_numpy()
        sums, n_skipped = simulate_families(frame.reset_index(drop=True), settings,
                                            seed=np.random.SeedSequence([settings.seed, int(bucket)]),
                                            reference_order_up_to=None if reference is None else reference[:, rows],
                                            reference_service=None if reference_service is None else tuple(
                                                c[:, rows] for c in reference_service))
        frames.append(sums)
        skipped += n_skipped
    return pd.concat(frames, ignore_index=True), skipped, time.perf_counter() - started


def _curves_markdown(table: pd.DataFrame) -> list[str]:
    lines = ["| policy | knob | fill rate | CSL | avg on hand | stockout periods / series | turns |", "|---|---|---|---|---|---|---|"]
    for _, row in table.sort_values(["policy", "service_level_target"]).iterrows():
        knob = f"{row['service_level_target']:g} wk" if row["policy"] == "static_cover" else f"{row['service_level_target']:g}"
        lines.append(f"| {row['policy']} | {knob} | {row['fill_rate']:.3f} | {row['csl']:.3f} | {row['avg_on_hand']:.2f} | "
                     f"{row['stockout_periods']:.2f} | {row['inventory_turns']:.1f} |")
    return lines


def _pct(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.1%}"


def _comparison_markdown(comparison: pd.DataFrame) -> list[str]:
    lines = ["| segment | series | invspark target | fill rate | stock vs static_cover | stock vs mae_normal | "
             "stockouts vs static_cover | stockouts vs mae_normal |", "|---|---|---|---|---|---|---|---|"]

    wide = (comparison.set_index(["segment", "service_level_target", "n_series", "fill_rate", "baseline"])
            [["inventory_change", "stockout_change"]].unstack("baseline").reset_index())
    for _, row in wide.iterrows():
        lines.append(f"| {row[('segment', '')]} | {int(row[('n_series', '')]):,} | {row[('service_level_target', '')]:g} | "
                     f"{row[('fill_rate', '')]:.3f} | {_pct(row[('inventory_change', 'static_cover')])} | "
                     f"{_pct(row[('inventory_change', 'mae_normal')])} | {_pct(row[('stockout_change', 'static_cover')])} | "
                     f"{_pct(row[('stockout_change', 'mae_normal')])} |")
    return lines


def report(name: str, per_series: pd.DataFrame, settings: OutcomeBacktestSettings, skipped: int, seconds: float,
           min_series: int, extra: str = "") -> str:
    by_segment = outcome_table(per_series, settings.year_periods)
    pooled = outcome_table(per_series.assign(segment="all"), settings.year_periods)
    comparable = by_segment[by_segment["n_series"] >= min_series]
    comparison = frontier_comparison(pd.concat([pooled, comparable], ignore_index=True))
    comparison = comparison[comparison["service_level_target"].isin(COMPARE_TARGETS)]
    n_series = int(pooled["n_series"].iloc[0])
    lines = [f"### {name}\n",
             f"{n_series:,} series simulated ({skipped:,} without a forecast or policy skipped), holdout "
             f"{settings.holdout} periods ({settings.frequency}), forecast horizon {settings.forecast_horizon}, "
             f"{'lost sales' if settings.lost_sales else 'backorders'}, MOQ / case pack "
             f"{'applied' if settings.apply_order_rounding else 'ignored'}, invspark's targets are "
             f"{'fill rates' if settings.service_level_type == 'fill_rate' else 'CSLs'}; {seconds:.0f} s in one process.{extra}\n",
             "Inventory at equal achieved fill rate, and stockout periods at equal average stock, invspark against "
             "each baseline (negative = invspark needs less / has fewer; n/a = outside the baseline's swept range); "
             f"all series, then segments with at least {min_series} series:\n",
             *_comparison_markdown(comparison), "",
             "Service-versus-inventory curves, all series (static_cover knob = reorder cover X in weeks, order up to "
             "X + one review period):\n", *_curves_markdown(pooled), ""]
    if (pooled["policy"] == "reference").any():
        lines += [reference_markdown(pooled), ""]
    return "\n".join(lines)


def reference_markdown(pooled: pd.DataFrame) -> str:
    """invspark against the ``reference`` policy (RS on the true demand law), all series: the stock
    that knowing the demand law would save at invspark's achieved fill rate, and the stockouts it
    would avoid at invspark's stock (the headroom left to the forecast)."""
    against = frontier_comparison(pooled, baselines=("reference",))
    against = against[against["service_level_target"].isin(COMPARE_TARGETS)].sort_values("service_level_target")

    def pct(values):
        return " / ".join(_pct(value) for value in values)

    targets = " / ".join(f"{t:g}" for t in against["service_level_target"])
    return (f"Against the `reference` policy (RS on the generator's true demand law), all series, at invspark's targets "
            f"{targets}: invspark's stock at equal fill rate {pct(against['inventory_change'])}, its stockout periods at "
            f"equal stock {pct(against['stockout_change'])} (the headroom a perfect forecast would leave).")


def calibration_markdown(per_series: pd.DataFrame, settings: OutcomeBacktestSettings, min_series: int) -> str:
    """invspark's achieved service (CSL or fill rate, as its targets) against its target per segment,
    with a 95% series-bootstrap interval of the gap: a miss whose interval reaches into the
    +-1.5 pp band is within the sampling noise of the segment's series.

    Where ``per_series`` has the ``reference`` family (the RS policy that knows the true demand
    law, generated data), its achieved service is shown too: what the measure gives a perfectly
    calibrated forecast, with whole units, the same lead times and the same demand."""
    measure, label = ("fill_rate", "fill rate") if settings.service_level_type == "fill_rate" else ("csl", "CSL")
    cells = service_intervals(per_series, measure=measure, seed=settings.seed)
    cells = cells[cells["n_series"] >= min_series].reset_index(drop=True)
    has_reference = (per_series["policy"] == "reference").any()
    gap = 100 * (cells["achieved"] - cells["service_level_target"])
    low, high = 100 * (cells["lower"] - cells["service_level_target"]), 100 * (cells["upper"] - cells["service_level_target"])
    within = gap.abs() <= 1.5
    significant = ~within & ((low > 1.5) | (high < -1.5))
    header = f"| segment | series | target {label} | achieved {label} | gap (pp) | 95% interval (pp) | within +-1.5 pp |"
    if has_reference:
        reference = service_intervals(per_series, measure=measure, policy="reference", seed=settings.seed)
        reference = cells[["segment", "service_level_target"]].merge(reference, how="left")
        true_gap = 100 * (reference["achieved"] - cells["service_level_target"])
        to_reference = 100 * (cells["achieved"] - reference["achieved"])
        header += f" true-law {label} | true-law gap (pp) | invspark - true law (pp) |"
    lines = [header, "|---" * header.count(" | ") + "|---|"]
    for i in cells.sort_values(["segment", "service_level_target"]).index:
        verdict = "yes" if within[i] else ("no" if significant[i] else "no (noise)")
        line = (f"| {cells.at[i, 'segment']} | {int(cells.at[i, 'n_series']):,} | {cells.at[i, 'service_level_target']:g} | "
                f"{cells.at[i, 'achieved']:.3f} | {gap[i]:+.1f} | {low[i]:+.1f} .. {high[i]:+.1f} | {verdict} |")
        if has_reference:
            line += f" {reference.at[i, 'achieved']:.3f} | {true_gap[i]:+.1f} | {to_reference[i]:+.1f} |"
        lines.append(line)
    summary = (f"\n\n{within.mean():.0%} of {len(cells)} segment x target cells within +-1.5 pp; "
               f"{int(significant.sum())} of the {int((~within).sum())} misses lie outside the band with 95% confidence "
               "(series bootstrap; `no (noise)`: the interval reaches into the band).")
    if has_reference:
        summary += (f" The true-law policy lands within +-1.5 pp of the target in {(true_gap.abs() <= 1.5).mean():.0%} "
                    f"of the cells; invspark lands within +-1.5 pp of the true-law policy in "
                    f"{(to_reference.abs() <= 1.5).mean():.0%}.")
    return "\n".join(lines) + summary + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--datasets", nargs="+", default=["generated", *REAL], choices=["generated", *REAL])
    parser.add_argument("--generated-series", type=int, default=4000)
    parser.add_argument("--min-series", type=int, default=100, help="segments with fewer series are not compared")
    parser.add_argument("--write", type=Path, default=None, help="append the markdown to this file")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reforecast-every", type=int, default=None,
                        help="forecast and plan again every N holdout periods (default: once, at the origin)")
    parser.add_argument("--service-level-type", choices=["csl", "fill_rate"], default="csl",
                        help="what invspark's targets are (policy.service_level_type); the baselines are unchanged")
    parser.add_argument("--censored-demand", choices=["impute", "lower_bound"], default="impute",
                        help="how the forecast treats stockout periods (forecast.censored_demand)")
    parser.add_argument("--service-target-scope", choices=["series", "segment"], default="series",
                        help="targets met by each series or by each segment together (policy.service_target_scope)")
    parser.add_argument("--level-calibration", action="store_true",
                        help="forecast with the level calibration (forecast.level_calibration: true)")
    parser.add_argument("--group-seasonality", action="store_true",
                        help="forecast with group seasonal indices (forecast.group_seasonality: true)")
    args = parser.parse_args()
    sections = []
    for dataset in args.datasets:
        if dataset == "generated":
            settings = OutcomeBacktestSettings(frequency="W", n_periods=130, holdout=26, horizon=13, seed=args.seed,
                                               reforecast_every=args.reforecast_every, level_calibration=args.level_calibration,
                                               group_seasonality=args.group_seasonality, censored_demand=args.censored_demand,
                                               service_level_type=args.service_level_type,
                                               service_target_scope=args.service_target_scope)
            panel, classes, reference, reference_service = generated_panel(
                args.generated_series, 104, 26, seed=args.seed, targets=settings.service_targets,
                service_level_type=args.service_level_type, with_service=args.service_target_scope == "segment")
            calibration = replace(settings, apply_order_rounding=False)
            sums, skipped, seconds = run_dataset(panel, calibration, reference, reference_service)
            text = report("generated, calibration (no MOQ / case pack)", sums, calibration, skipped, seconds, args.min_series)
            text += "\nAchieved service of invspark's RS against its target, per segment:\n\n"
            text += calibration_markdown(sums, calibration, args.min_series)
            true_class = pd.Series(classes, index=pd.MultiIndex.from_frame(panel[["sku_id", "location_id"]]))
            by_class = sums.assign(segment=true_class.reindex(pd.MultiIndex.from_frame(sums[["sku_id", "location_id"]]))
                                   .to_numpy())
            text += "\nThe same, per true demand class of the generator:\n\n"
            text += calibration_markdown(by_class, calibration, args.min_series)
            sums, skipped, seconds = run_dataset(panel, settings)
            text += "\n" + report("generated, with the items' MOQ and case packs", sums, settings, skipped, seconds,
                                  args.min_series)
        else:
            holdout, horizon, step = REAL[dataset]
            panel, frequency = real_panel(dataset, args.data, holdout)
            n_periods = len(panel["units"].iloc[0])
            settings = OutcomeBacktestSettings(frequency=frequency, n_periods=n_periods, holdout=holdout, horizon=horizon,
                                               backtest_step=step, seed=args.seed, reforecast_every=args.reforecast_every,
                                               level_calibration=args.level_calibration, group_seasonality=args.group_seasonality,
                                               censored_demand=args.censored_demand,
                                               service_level_type=args.service_level_type,
                                               service_target_scope=args.service_target_scope)
            sums, skipped, seconds = run_dataset(panel, settings)
            text = report(dataset, sums, settings, skipped, seconds, args.min_series)
        print(text, flush=True)
        sections.append(text)
        if args.write:
            with args.write.open("a") as out:
                out.write(text + "\n")


if __name__ == "__main__":
    main()
