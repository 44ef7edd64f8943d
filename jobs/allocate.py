"""spark-submit entry point for the `allocate` stage alone (the stages of one run share --run-id).

    spark-submit --master <master> --py-files dist/invspark-0.1.0-py3-none-any.whl \
        jobs/allocate.py --config conf/run.yaml --run-id <id>
"""

import sys

from invspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "allocate", *sys.argv[1:]]))
