"""spark-submit entry point for the `simulate` stage (business-outcome backtest) alone (the stages of one run share --run-id).

    spark-submit --master <master> --py-files dist/invspark-0.1.0-py3-none-any.whl \
        jobs/simulate.py --config conf/run.yaml --run-id <id>
"""

import sys

from invspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "simulate", *sys.argv[1:]]))
