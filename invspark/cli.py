"""The `invspark` command: run the pipeline, generate sample data, run the demo.

    invspark run --config FILE [--stages ingest,forecast,policy,allocate] [--run-date D] [--run-id ID]
    invspark generate --series N --periods T --frequency D|W|M --out DIR [--seed S] [--bad-row-rate R]
    invspark demo [--series N] [--data DIR] [--warehouse DIR]
    invspark sql "SELECT ..." [--warehouse DIR]
    invspark report --config FILE [--run-date D]

`spark-submit jobs/<stage>.py --config FILE` calls the same `main`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from invspark.config import FREQUENCIES, load_config, parse_config, config_to_yaml
from invspark.errors import InvsparkError

log = logging.getLogger("invspark")

OUTPUT_TABLES = (
    "demand_forecast", "demand_distribution", "forecast_accuracy", "inventory_policy",
    "allocation", "echelon_policy", "policy_simulation", "runs", "quarantine",
)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _spark(config_master: str | None, conf: dict[str, str] | None = None, verbose: bool = False):
    from invspark.spark.session import get_spark

    return get_spark("invspark", master=config_master, extra_conf=conf, quiet=not verbose)


def cmd_run(args: argparse.Namespace) -> int:
    from invspark.pipeline import STAGES, run_pipeline

    overrides = {"run_date": args.run_date} if args.run_date else {}
    config = load_config(args.config, overrides)
    stages = tuple(s.strip() for s in args.stages.split(",")) if args.stages else STAGES
    spark = _spark(config.spark.master, dict(config.spark.conf), args.verbose)
    started = time.perf_counter()
    context = run_pipeline(spark, config, stages=stages, run_id=args.run_id)
    print(f"run {context.run_id} finished in {time.perf_counter() - started:.1f} s; tables in {config.warehouse}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from invspark.spark.generate import generate_dataset

    spark = _spark(None, verbose=args.verbose)
    started = time.perf_counter()
    data = generate_dataset(
        spark, args.out, n_series=args.series, n_periods=args.periods, frequency=args.frequency,
        seed=args.seed, bad_row_rate=args.bad_row_rate,
    )
    config_path = write_dataset_config(data, Path(args.out), warehouse=args.warehouse)
    print(
        f"generated {data.n_series:,} series ({data.n_skus:,} SKUs x {data.n_stores:,} stores, {data.n_dcs:,} DCs) "
        f"in {time.perf_counter() - started:.1f} s under {args.out}; run config: {config_path}"
    )
    return 0


def write_dataset_config(data, out_dir: Path, warehouse: str) -> Path:
    """A run config for a generated data set: its tables as inputs, forecasting from its run_date."""
    raw = {
        "run_date": data.run_date.isoformat(),
        "frequency": data.frequency,
        "horizon": data.horizon,
        "warehouse": str(Path(warehouse).resolve()),
        "inputs": {name: {"path": str(Path(path).resolve()), "format": "parquet"} for name, path in data.paths.items() if name != "truth"},
    }
    config = parse_config(raw, base_dir=out_dir, source="generated")
    path = out_dir / "invspark.yaml"
    path.write_text(config_to_yaml(config))
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    from invspark.pipeline import OPTIONAL_STAGES, STAGES, run_pipeline
    from invspark.spark.generate import generate_dataset

    spark = _spark(None, verbose=args.verbose)
    started = time.perf_counter()
    data_dir = Path(args.data)
    data = generate_dataset(spark, str(data_dir), n_series=args.series, n_periods=args.periods, frequency="W", seed=args.seed, bad_row_rate=0.001)
    config_path = write_dataset_config(data, data_dir, warehouse=args.warehouse)
    log.info("demo data: %s series under %s; config %s", f"{data.n_series:,}", data_dir, config_path)
    config = load_config(config_path)
    context = run_pipeline(spark, config, stages=STAGES + OPTIONAL_STAGES)
    warehouse = Path(config.warehouse)
    print(f"\ninvspark demo finished in {time.perf_counter() - started:.0f} s (run {context.run_id}).")
    print(f"Delta tables under {warehouse}:")
    for name in OUTPUT_TABLES:
        if (warehouse / name / "_delta_log").is_dir():
            print(f"  {warehouse / name}")
    print("\nQuery them, e.g. with DuckDB's delta extension or the deltalake package:")
    print(f"  .venv/bin/python -c \"import deltalake; print(deltalake.DeltaTable('{warehouse / 'inventory_policy'}').to_pandas().head())\"")
    print(f"  .venv/bin/invspark sql \"SELECT segment, count(*), avg(safety_stock) FROM inventory_policy GROUP BY 1\" --warehouse {warehouse}")
    print(f"Re-run the pipeline: .venv/bin/invspark run --config {config_path}")
    from invspark.report import build_report

    print(f"\nRun report (open it in a browser): {build_report(config.warehouse, config.run_date)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from invspark.report import report_main

    report_main(args.config, args.run_date)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from invspark.sql import connect

    connection = connect(args.warehouse, include_stage_tables=args.stage_tables)
    result = connection.execute(args.query)
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    widths = [max(len(str(c)), *(len(_cell(r[i])) for r in rows)) if rows else len(str(c)) for i, c in enumerate(columns)]
    print("  ".join(str(c).ljust(w) for c, w in zip(columns, widths)))
    for row in rows:
        print("  ".join(_cell(v).ljust(w) for v, w in zip(row, widths)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invspark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the pipeline (or some stages) for one run_date")
    run.add_argument("--config", required=True, help="run config YAML (see conf/ and CONTRACTS.md)")
    run.add_argument("--stages", help="comma-separated stages: ingest,forecast,policy,allocate (the default, in order) and simulate (opt-in outcome backtest)")
    run.add_argument("--run-date", help="override the config's run_date (YYYY-MM-DD)")
    run.add_argument("--run-id", help="run id to record (default: generated); stage jobs of one run share it")
    run.set_defaults(func=cmd_run)

    gen = commands.add_parser("generate", help="generate a synthetic retail data set (all input tables)")
    gen.add_argument("--series", type=int, required=True, help="number of sku x store series")
    gen.add_argument("--periods", type=int, default=104, help="history length in periods (default 104)")
    gen.add_argument("--frequency", choices=FREQUENCIES, default="W")
    gen.add_argument("--out", required=True, help="output folder for the input tables")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--bad-row-rate", type=float, default=0.0, help="share of deliberately bad sales rows")
    gen.add_argument("--warehouse", default="./warehouse", help="warehouse written into the generated run config")
    gen.set_defaults(func=cmd_generate)

    demo = commands.add_parser("demo", help="generate a small data set and run the whole pipeline on it")
    demo.add_argument("--series", type=int, default=3000)
    demo.add_argument("--periods", type=int, default=104)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--data", default="./demo_data")
    demo.add_argument("--warehouse", default="./warehouse")
    demo.set_defaults(func=cmd_demo)

    sql = commands.add_parser("sql", help="query the warehouse's Delta tables with SQL (DuckDB, no Spark)")
    sql.add_argument("query", help="e.g. \"SELECT segment, count(*) FROM demand_distribution GROUP BY 1\"")
    sql.add_argument("--warehouse", default="./warehouse")
    sql.add_argument("--stage-tables", action="store_true", help="also expose the internal stage_* tables")
    sql.set_defaults(func=cmd_sql)

    report = commands.add_parser("report", help="write a run's self-contained HTML report (reads the warehouse; no Spark)")
    report.add_argument("--config", required=True, help="run config YAML; its warehouse is read")
    report.add_argument("--run-date", help="the run to report (YYYY-MM-DD; default: the latest run in the warehouse)")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args)
    except InvsparkError as exc:
        print(f"invspark: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
