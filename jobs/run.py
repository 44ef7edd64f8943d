"""spark-submit entry point for the whole pipeline.

    spark-submit --master <master> --py-files dist/invspark-0.1.0-py3-none-any.whl \
        jobs/run.py --config conf/run.yaml [--run-date 2012-01-04]
"""

import sys

from invspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
