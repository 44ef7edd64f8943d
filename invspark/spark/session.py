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
from importlib import resources
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
# The BASE_CONF keys a session took from invspark because neither spark-submit nor the run config
# set them (comma-separated): `size_shuffle_partitions` may replace only such a default.
DEFAULTED_CONF = "spark.invspark.defaultedConf"

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
    quiet: bool = True,
):
    """Get or create the SparkSession.

    `master`: used only when no master was given by `spark-submit` or the environment
    (`local[*]` by default). `extra_conf`: settings from the run config (e.g. shuffle partitions).
    `quiet`: in local mode, use invspark's log4j2 settings (no repeated task-failure traces).
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
    local = (submitted_master or master or "local").startswith("local")
    if local:
        # In local mode the driver JVM is also the only executor: Spark's 1 GB default heap runs
        # out at about 10,000 series, so take 40% of the machine's memory (1-16 GB).
        conf["spark.driver.memory"] = local_driver_memory()
    if quiet and local:
        log4j = resources.files("invspark").joinpath("defaults/log4j2.properties")
        conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{log4j}"
    conf.update(extra_conf or {})
    defaulted = []
    for key, value in conf.items():
        if _submitted_conf(key) is None:
            builder = builder.config(key, value)
            if key in BASE_CONF and key not in (extra_conf or {}):
                defaulted.append(key)
    spark = builder.config(DEFAULTED_CONF, ",".join(defaulted)).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log.info("Spark %s session: master=%s", spark.version, spark.sparkContext.master)
    return spark


def local_driver_memory() -> str:
    """Heap for a local-mode driver: 40% of physical memory, between 1 and 16 GB."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{int(min(max(total * 0.4 / 2**30, 1), 16))}g"


def size_shuffle_partitions(spark, input_path: str, bytes_per_partition: int = 8 * 1024 * 1024) -> int:
    """Set `spark.sql.shuffle.partitions` from the size of the input on disk, unless the user set it.

    The sales Parquet expands about 9 times into validation's shuffle (typed columns plus the
    row as JSON: 346 MB on disk wrote 3.0 GB at 1M weekly series), so one partition per 8 MB on
    disk keeps each sort near 100 MB (at least twice the cores); AQE then coalesces small shuffle
    partitions. Only a value invspark defaulted (`DEFAULTED_CONF`) is replaced: one given to
    spark-submit, in the run config, or in a session invspark did not create stays. Only file
    metadata is read (Hadoop's content summary), never the data.
    """
    if "spark.sql.shuffle.partitions" not in spark.conf.get(DEFAULTED_CONF, "").split(","):
        return int(spark.conf.get("spark.sql.shuffle.partitions"))
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(input_path)
    file_system = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    size = int(file_system.getContentSummary(hadoop_path).getLength())
    partitions = max(2 * spark.sparkContext.defaultParallelism, -(-size // bytes_per_partition))
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    log.info("shuffle partitions: %d (input %.1f MB)", partitions, size / 1e6)
    return partitions


def _submitted_conf(key: str) -> str | None:
    """A conf given by spark-submit (it passes them to the driver as PYSPARK_SUBMIT_ARGS/--conf)."""
    from pyspark import SparkConf

    value = SparkConf().get(key, None)
    return value
