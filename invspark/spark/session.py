"""The SparkSession factory.

Local mode by default (`local[*]`). Under `spark-submit` the master and the confs given there win:
`builder.getOrCreate()` picks up `spark.master` from the submit, and we only set defaults for keys
the user did not set.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from typing import Mapping

from invspark.errors import InvsparkError

log = logging.getLogger(__name__)

# Settings every invspark session needs; `spark-submit --conf` and the run config may override
# the ones marked overridable by passing them in `extra_conf`.
BASE_CONF: dict[str, str] = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    # INT96 timestamps carry no Parquet statistics and push the Delta protocol up.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
}

JAVA_HELP = (
    "Spark needs a Java 17 or 21 runtime and none was found (no `java` on PATH and JAVA_HOME "
    "unset). Install one, e.g. on Debian/Ubuntu `sudo apt-get install -y openjdk-17-jre-headless`, "
    "on macOS `brew install openjdk@17`, or set JAVA_HOME to an existing JDK 17+."
)


def check_java() -> str:
    """Return the path of the `java` that Spark will use, or raise with how to install one."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return os.path.join(java_home, "bin", "java")
    java = shutil.which("java")
    if java is None:
        raise InvsparkError(JAVA_HELP)
    return java


def java_major_version(java: str) -> int:
    """The major version of a `java` binary (17 for "17.0.15")."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    for token in out.split():
        token = token.strip('"')
        if token[:1].isdigit():
            head = token.split(".")[0]
            return int(head) if head != "1" else int(token.split(".")[1])
    raise InvsparkError(f"could not read the Java version from `{java} -version`: {out!r}")


def get_spark(
    app_name: str = "invspark",
    master: str | None = None,
    extra_conf: Mapping[str, str] | None = None,
):
    """Get or create the SparkSession.

    `master`: used only when no master was given by `spark-submit` or the environment
    (`local[*]` by default). `extra_conf`: settings from the run config (e.g. shuffle partitions).
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    java = check_java()
    if java_major_version(java) < 17:
        raise InvsparkError(f"Spark 4.2 needs Java 17 or newer; {java} is older. " + JAVA_HELP)
    builder = SparkSession.builder.appName(app_name)
    submitted_master = os.environ.get("MASTER") or _submitted_conf("spark.master")
    if submitted_master is None:
        builder = builder.master(master or "local[*]")
    if (submitted_master or master or "local").startswith("local"):
        # Local Python workers run this interpreter (its venv has numpy, pyarrow, ...); on a
        # cluster the executors' Python is the cluster's setting (spark.pyspark.python).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = dict(BASE_CONF)
    conf.update(extra_conf or {})
    for key, value in conf.items():
        if _submitted_conf(key) is None:
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log.info("Spark %s session: master=%s", spark.version, spark.sparkContext.master)
    return spark


def _submitted_conf(key: str) -> str | None:
    """A conf given by spark-submit (it passes them to the driver as PYSPARK_SUBMIT_ARGS/--conf)."""
    from pyspark import SparkConf

    value = SparkConf().get(key, None)
    return value
