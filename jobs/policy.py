"""spark-submit entry point for the `policy` stage alone (the stages of one run share --run-id).

    spark-submit --master <master> --py-files dist/invspark-0.1.0-py3-none-any.whl \
        jobs/policy.py --config conf/run.yaml --run-id <id>
"""

import sys

from invspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "policy", *sys.argv[1:]]))
