"""The HTML run report: one self-contained file per run, read from the warehouse without Spark.

`build_report(warehouse, run_date=None, out_path=None)` writes it and returns its path;
`report_main(config_path, run_date)` is the `invspark report` command.
"""

from invspark.report.build import build_report, report_main

__all__ = ["build_report", "report_main"]
