"""Delta IO for the output tables: one small interface, two backends.

Every output table (CONTRACTS.md, "Outputs") is a Delta table at `<warehouse>/<name>`,
partitioned by `run_date` (DateType, on every row). `DeltaTables.write_table(df, name, run_date)`
replaces exactly that run's rows in one atomic Delta commit; earlier runs stay, and a reader
always sees a complete version.

Backends (chosen once per `DeltaTables`, logged at INFO, exposed as `.backend`):

- `"spark-delta"`: clusters with the Delta Lake JARs. Spark's own Delta writer with
  `replaceWhere` (Delta Lake docs, "Selectively overwrite data with replaceWhere"); Delta itself
  enforces the schema and refuses rows outside the `replaceWhere` predicate.
- `"delta-rs"`: local mode without the JARs (no Maven). Spark writes plain Parquet into a unique
  staging folder inside the table root (`<table>/_staging/<write_id>/run_date=<d>/part-*.parquet`);
  the driver checks the files (partition folders, footer schema against the table schema), moves
  them to `<table>/run_date=<d>/`, builds their statistics from the Parquet footers
  (`invspark.spark.delta_stats`) and commits them as one Delta transaction with the `deltalake`
  package. Nothing is referenced by the log before that commit, and on any failure before it the
  moved and staged files are deleted, so the previous version stays the table's state. Reading
  goes through the log (`DeltaTable.file_uris()`), never through a folder listing, which would
  also return logically removed files.

Schema: both backends add a column that the written rows have and the table lacks (Delta's
`mergeSchema`; rows written before read it as null), so a release that adds an output column
needs no migration; a missing column or a changed type is refused and the table is unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import posixpath
import re
import reprlib
import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from invspark.errors import ConfigError, InputDataError, TableWriteError
from invspark.spark.delta_stats import parquet_file_stats_json

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

PARTITION_COLUMN = "run_date"
BACKENDS = ("spark-delta", "delta-rs")
WRITE_MODES = ("replace_run", "append")
DELTA_EXTENSION_CLASS = "io.delta.sql.DeltaSparkSessionExtension"
STAGING_FOLDER = "_staging"
# A staging folder this old belongs to a write whose driver died (a write takes minutes, not a day).
STALE_STAGING_SECONDS = 24 * 3600
# Key of the commitInfo entry that ties a Delta version to the write that made it.
WRITE_ID_KEY = "invspark.write_id"
# Reader features that need no more than reading the files the log lists.
PLAIN_READER_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class WriteResult:
    """What one `write_table` committed: the table, its new version, the files and rows added."""

    table_path: str
    version: int
    num_files: int
    num_rows: int


def choose_backend(requested: str | None, delta_jars_present: bool) -> tuple[str, str]:
    """The backend to use and why, as `(backend, reason)`.

    `requested` None picks `"spark-delta"` when the Delta JARs are on the classpath, else
    `"delta-rs"`; an explicit `"spark-delta"` without the JARs is a `ConfigError`.
    """
    if requested is not None and requested not in BACKENDS:
        raise ConfigError(
            f"backend={requested!r} is not a Delta backend; use one of {list(BACKENDS)} "
            "or None to choose from the classpath"
        )
    if requested == "spark-delta" and not delta_jars_present:
        raise ConfigError(
            "backend='spark-delta' but the Delta Lake JARs are not on the Spark classpath "
            f"({DELTA_EXTENSION_CLASS} not found); start Spark with "
            "--packages io.delta:delta-spark_4.2_2.13:4.4.1 (or the JARs your cluster ships), "
            "or use backend='delta-rs' / None"
        )
    if requested is not None:
        return requested, "requested"
    if delta_jars_present:
        return "spark-delta", "Delta JARs on the classpath"
    return "delta-rs", "no Delta JARs on the classpath"


def delta_jars_on_classpath(spark: SparkSession) -> bool:
    """Whether Spark can load the Delta Lake classes (so `format("delta")` works)."""
    jvm = getattr(spark, "_jvm", None)
    if jvm is None:  # Spark Connect: no JVM handle; trust the session's extensions setting
        return DELTA_EXTENSION_CLASS in (spark.conf.get("spark.sql.extensions", "") or "")
    from py4j.protocol import Py4JJavaError

    try:
        # Spark's loader also sees JARs added with --packages / spark.jars.
        jvm.org.apache.spark.util.Utils.classForName(DELTA_EXTENSION_CLASS, True, False)
    except Py4JJavaError:
        return False
    return True


class DeltaTables:
    """The output tables under one warehouse folder (or URI), written with one backend.

    `backend`: `"spark-delta"`, `"delta-rs"`, or None to choose from the classpath
    (`choose_backend`).
    """

    def __init__(self, spark: SparkSession, warehouse: str, backend: str | None = None):
        self.spark = spark
        self.warehouse = _normalize_location(warehouse)
        self.backend, reason = choose_backend(
            backend, delta_jars_on_classpath(spark) if backend != "delta-rs" else False
        )
        log.info("Delta backend: %s (%s)", self.backend, reason)
        self._impl = _SparkDeltaBackend() if self.backend == "spark-delta" else _DeltaRsBackend()

    def table_path(self, name: str) -> str:
        """`<warehouse>/<name>`; `name` must be a plain identifier such as `demand_forecast`."""
        if not isinstance(name, str) or not _TABLE_NAME.match(name):
            raise ConfigError(
                f"table name={name!r} is not a plain identifier; use letters, digits and '_' "
                "(e.g. 'demand_forecast')"
            )
        return f"{self.warehouse}/{name}"

    def exists(self, name: str) -> bool:
        """Whether `<warehouse>/<name>` is a Delta table."""
        return self._impl.exists(self.spark, self.table_path(name))

    def write_table(
        self,
        df: DataFrame,
        name: str,
        run_date: datetime.date,
        mode: str = "replace_run",
    ) -> WriteResult:
        """Write `df` (every row with `run_date` = `run_date`, a DateType column) to table `name`.

        `mode="replace_run"`: the partition `run_date=<run_date>` is replaced by `df`'s rows in one
        commit (the table is created if absent; an empty `df` removes the run's rows).
        `mode="append"`: `df`'s rows are added to that partition.
        Raises `TableWriteError` (table unchanged) when the columns differ from the table's or
        `df` holds rows of another run_date.
        """
        if mode not in WRITE_MODES:
            raise ConfigError(f"write mode={mode!r} is unknown; use one of {list(WRITE_MODES)}")
        if not isinstance(run_date, datetime.date) or isinstance(run_date, datetime.datetime):
            raise ConfigError(
                f"run_date={run_date!r} must be a datetime.date, e.g. datetime.date(2012, 1, 4)"
            )
        _check_partition_column(df, name)
        return self._impl.write(self.spark, df, self.table_path(name), run_date, mode)

    def read_table(self, name: str, run_date: datetime.date | None = None) -> DataFrame:
        """Table `name` as a Spark DataFrame (one run's rows when `run_date` is given)."""
        path = self.table_path(name)
        if not self._impl.exists(self.spark, path):
            raise InputDataError(
                f"table {name!r} does not exist at {path}; write it first or check the warehouse"
            )
        return self._impl.read(self.spark, path, run_date)


def read_delta(spark: SparkSession, path: str) -> DataFrame:
    """The Delta table at `path` as a Spark DataFrame, with whichever backend this Spark has.

    Used for the pipeline's outputs and for Delta *inputs*. Without the Delta JARs the table is
    read through its log with delta-rs; tables that need more than the listed files to be read
    correctly (deletion vectors, column mapping) are refused with an `InputDataError`.
    """
    location = _normalize_location(path)
    backend, _ = choose_backend(None, delta_jars_on_classpath(spark))
    impl = _SparkDeltaBackend() if backend == "spark-delta" else _DeltaRsBackend()
    if not impl.exists(spark, location):
        raise InputDataError(
            f"path={path!r} is not a Delta table (no _delta_log); check the path or set the "
            "input's format to parquet/csv"
        )
    return impl.read(spark, location, None)


def _normalize_location(location: str) -> str:
    """A local path made absolute (Spark and delta-rs then agree on it); URIs unchanged."""
    if not isinstance(location, str) or not location:
        raise ConfigError(f"warehouse/path={location!r} must be a non-empty folder path or URI")
    if "://" in location:
        return location.rstrip("/")
    return os.path.abspath(location).rstrip("/") or "/"


def _check_partition_column(df: DataFrame, name: str) -> None:
    from pyspark.sql.types import DateType

    fields = {field.name: field for field in df.schema.fields}
    if PARTITION_COLUMN not in fields:
        raise TableWriteError(
            f"cannot write table {name!r}: the DataFrame has no {PARTITION_COLUMN!r} column "
            f"(columns: {reprlib.repr(df.columns)}); add it with "
            f"df.withColumn('{PARTITION_COLUMN}', F.lit(run_date))"
        )
    if not isinstance(fields[PARTITION_COLUMN].dataType, DateType):
        raise TableWriteError(
            f"cannot write table {name!r}: column {PARTITION_COLUMN!r} is "
            f"{fields[PARTITION_COLUMN].dataType.simpleString()}, not date; cast it with "
            f"F.col('{PARTITION_COLUMN}').cast('date')"
        )


class _SparkDeltaBackend:
    """Spark's own Delta writer and reader (needs the Delta Lake JARs; not runnable here)."""

    def exists(self, spark: SparkSession, path: str) -> bool:
        from delta.tables import DeltaTable as SparkDeltaTable

        return bool(SparkDeltaTable.isDeltaTable(spark, path))

    def write(
        self, spark: SparkSession, df: DataFrame, path: str, run_date: datetime.date, mode: str
    ) -> WriteResult:
        from delta.tables import DeltaTable as SparkDeltaTable

        # mergeSchema: a new column is added to the table (as the delta-rs backend does); a
        # missing column or a changed type is still refused by Delta.
        writer = df.write.format("delta").partitionBy(PARTITION_COLUMN).option("mergeSchema", "true")
        if mode == "replace_run":
            # Delta checks that every written row satisfies the predicate and fails otherwise.
            writer = writer.mode("overwrite").option("replaceWhere", replace_where(run_date))
        else:
            writer = writer.mode("append")
        writer.save(path)
        # The newest commit; another writer committing in between would be reported instead.
        last = SparkDeltaTable.forPath(spark, path).history(1).collect()[0]
        metrics = last["operationMetrics"] or {}
        return WriteResult(
            table_path=path,
            version=int(last["version"]),
            num_files=int(metrics.get("numFiles", 0)),
            num_rows=int(metrics.get("numOutputRows", 0)),
        )

    def read(self, spark: SparkSession, path: str, run_date: datetime.date | None) -> DataFrame:
        from pyspark.sql import functions as F

        frame = spark.read.format("delta").load(path)
        if run_date is not None:
            frame = frame.where(F.col(PARTITION_COLUMN) == F.lit(run_date))
        return frame


def replace_where(run_date: datetime.date) -> str:
    """The `replaceWhere` predicate that selects one run: `run_date = '2012-01-04'`."""
    return f"{PARTITION_COLUMN} = '{run_date.isoformat()}'"


@dataclasses.dataclass(frozen=True)
class _StagedFile:
    relative_path: str  # final path relative to the table root: run_date=<d>/part-....parquet
    staged_path: str  # filesystem path where Spark wrote it
    size: int
    modification_time_ms: int


class _DeltaRsBackend:
    """Spark writes Parquet, delta-rs commits it; reads go through the Delta log."""

    def exists(self, spark: SparkSession, path: str) -> bool:
        from deltalake import DeltaTable

        return bool(DeltaTable.is_deltatable(path))

    # ---- write -------------------------------------------------------------------------------

    def write(
        self, spark: SparkSession, df: DataFrame, path: str, run_date: datetime.date, mode: str
    ) -> WriteResult:
        filesystem, table_root = pafs.FileSystem.from_uri(path)
        write_id = uuid.uuid4().hex
        staging_root = posixpath.join(table_root, STAGING_FOLDER, write_id)
        staging_uri = f"{path}/{STAGING_FOLDER}/{write_id}"
        moved: list[str] = []
        committed = False
        _remove_stale_staging(filesystem, posixpath.join(table_root, STAGING_FOLDER))
        try:
            df.write.mode("errorifexists").partitionBy(PARTITION_COLUMN).parquet(staging_uri)
            staged = self._staged_files(filesystem, staging_root, run_date, path)
            footers = [pq.read_metadata(f.staged_path, filesystem=filesystem) for f in staged]
            written_schema = self._written_schema(df, footers, path)
            table = self._open(path)
            if table is not None and _added_columns(table, written_schema, path):
                table = self._open(path)
            for staged_file in staged:
                destination = posixpath.join(table_root, staged_file.relative_path)
                filesystem.create_dir(posixpath.dirname(destination), recursive=True)
                filesystem.move(staged_file.staged_path, destination)
                moved.append(destination)
            actions = [
                _add_action(staged_file, footer, run_date)
                for staged_file, footer in zip(staged, footers)
            ]
            self._commit(path, table, actions, written_schema, run_date, mode, write_id)
            committed = True
            version = self._committed_version(path, write_id)
            if version is None:
                raise TableWriteError(
                    f"the Delta commit to {path} returned but no commit with "
                    f"{WRITE_ID_KEY}={write_id} is in the table history; inspect "
                    "DeltaTable(path).history()"
                )
        except BaseException:
            if not committed and self._committed_version(path, write_id) is not None:
                committed = True  # e.g. a post-commit hook failed after the commit landed
                log.warning("write %s to %s committed before failing", write_id, path)
            if not committed:
                for destination in moved:
                    _delete_file(filesystem, destination)
            raise
        finally:
            _delete_dir(filesystem, staging_root)
        return WriteResult(
            table_path=path,
            version=version,
            num_files=len(actions),
            num_rows=sum(footer.num_rows for footer in footers),
        )

    def _staged_files(
        self, filesystem: pafs.FileSystem, staging_root: str, run_date: datetime.date, path: str
    ) -> list[_StagedFile]:
        """The Parquet files Spark wrote, after checking they all lie in `run_date=<run_date>`."""
        expected = f"{PARTITION_COLUMN}={run_date.isoformat()}"
        infos = filesystem.get_file_info(pafs.FileSelector(staging_root, recursive=True))
        data_files = [
            info
            for info in infos
            if info.type == pafs.FileType.File
            and not posixpath.basename(info.path).startswith(("_", "."))
        ]
        folders = sorted(
            {posixpath.relpath(posixpath.dirname(info.path), staging_root) for info in data_files}
        )
        others = [folder for folder in folders if folder != expected]
        if others:
            found = [folder.split("=", 1)[-1] for folder in others]
            found = ["null" if value == "__HIVE_DEFAULT_PARTITION__" else value for value in found]
            raise TableWriteError(
                f"refusing to write {path}: the DataFrame has rows with {PARTITION_COLUMN} in "
                f"{reprlib.repr(found)}, but this write replaces {PARTITION_COLUMN}="
                f"{run_date.isoformat()} only; filter the DataFrame to that run or set "
                f"{PARTITION_COLUMN} with F.lit(run_date). The table is unchanged."
            )
        return [
            _StagedFile(
                relative_path=f"{expected}/{posixpath.basename(info.path)}",
                staged_path=info.path,
                size=int(info.size),
                modification_time_ms=int(info.mtime_ns // 1_000_000),
            )
            for info in sorted(data_files, key=lambda info: info.path)
        ]

    def _written_schema(
        self, df: DataFrame, footers: list[pq.FileMetaData], path: str
    ) -> pa.Schema:
        """The written columns in `df`'s order, as arrow types, all nullable.

        From the Parquet footers when files were written (what readers will actually see);
        from `df.schema` for an empty write. `run_date` (a folder, not in the files) is date32.
        Nullable like Delta Spark, which stores a DataFrame's schema `asNullable`.
        """
        if footers:
            file_schema = footers[0].schema.to_arrow_schema().remove_metadata()
            for footer in footers[1:]:
                other = footer.schema.to_arrow_schema().remove_metadata()
                if not other.equals(file_schema):
                    raise TableWriteError(
                        f"refusing to write {path}: the files Spark wrote disagree on their "
                        f"schema ({file_schema} vs {other}); the table is unchanged"
                    )
            fields = {field.name: field for field in file_schema}
            fields[PARTITION_COLUMN] = pa.field(PARTITION_COLUMN, pa.date32())
            if set(fields) != set(df.columns):
                raise TableWriteError(
                    f"refusing to write {path}: the written files hold columns {sorted(fields)} "
                    f"but the DataFrame has {sorted(df.columns)} (duplicate or case-clashing "
                    "column names?); rename the columns. The table is unchanged."
                )
            ordered = [fields[name] for name in df.columns]
        else:
            from pyspark.sql.pandas.types import to_arrow_schema

            ordered = list(to_arrow_schema(df.schema, timezone="UTC"))
        return pa.schema([field.with_nullable(True) for field in ordered])

    def _open(self, path: str):
        from deltalake import DeltaTable

        return DeltaTable(path) if DeltaTable.is_deltatable(path) else None

    def _commit(
        self,
        path: str,
        table,
        actions: list,
        written_schema: pa.Schema,
        run_date: datetime.date,
        mode: str,
        write_id: str,
    ) -> None:
        """Commit `actions` as one Delta transaction tagged with `write_id`."""
        from deltalake import CommitProperties, DeltaTable, Schema
        from deltalake.exceptions import DeltaError
        from deltalake.transaction import create_table_with_add_actions

        properties = CommitProperties(
            custom_metadata={
                WRITE_ID_KEY: write_id,
                "invspark.run_date": run_date.isoformat(),
                "invspark.mode": mode,
            }
        )
        if table is None:
            try:
                create_table_with_add_actions(
                    path,
                    Schema.from_arrow(written_schema),
                    actions,
                    mode="error",
                    partition_by=[PARTITION_COLUMN],
                    commit_properties=properties,
                )
                return
            except DeltaError:
                # Another writer created the table first: commit into it like any later write.
                if not DeltaTable.is_deltatable(path):
                    raise
            table = DeltaTable(path)
            if _added_columns(table, written_schema, path):
                table = DeltaTable(path)
        if mode == "replace_run":
            table.create_write_transaction(
                actions,
                mode="overwrite",
                schema=table.schema(),
                partition_by=[PARTITION_COLUMN],
                partition_filters=[(PARTITION_COLUMN, "=", run_date.isoformat())],
                commit_properties=properties,
            )
        else:
            table.create_write_transaction(
                actions,
                mode="append",
                schema=table.schema(),
                partition_by=[PARTITION_COLUMN],
                commit_properties=properties,
            )

    def _committed_version(self, path: str, write_id: str, depth: int = 50) -> int | None:
        """The version whose commitInfo carries `write_id`, if it reached the log."""
        from deltalake import DeltaTable

        try:
            if not DeltaTable.is_deltatable(path):
                return None
            history = DeltaTable(path).history(limit=depth)
        except OSError:
            return None
        for commit in history:
            if commit.get(WRITE_ID_KEY) == write_id:
                return int(commit["version"])
        return None

    # ---- read --------------------------------------------------------------------------------

    def read(self, spark: SparkSession, path: str, run_date: datetime.date | None) -> DataFrame:
        from deltalake import DeltaTable
        from pyspark.sql.pandas.types import from_arrow_schema

        table = DeltaTable(path)
        _check_plain_readable(table, path)
        arrow_schema = pa.schema(table.schema().to_arrow())
        spark_schema = from_arrow_schema(arrow_schema, prefer_timestamp_ntz=True)
        filters = None
        if run_date is not None:
            if PARTITION_COLUMN not in table.metadata().partition_columns:
                raise InputDataError(
                    f"{path} is not partitioned by {PARTITION_COLUMN}; read it without run_date"
                )
            filters = [(PARTITION_COLUMN, "=", run_date.isoformat())]
        uris = table.file_uris(file_pruning_predicate=filters)
        if not uris:
            return spark.createDataFrame([], spark_schema)
        # Partition values come from the folder names, typed by the given schema.
        frame = spark.read.schema(spark_schema).option("basePath", path).parquet(*uris)
        frame = frame.select(*arrow_schema.names)
        if run_date is not None:  # exact, in case the log's pruning is only conservative
            from pyspark.sql import functions as F

            frame = frame.where(F.col(PARTITION_COLUMN) == F.lit(run_date))
        return frame


def _added_columns(table, written_schema: pa.Schema, path: str) -> list[str]:
    """Check the schema (`_check_schema`) and add the new columns to the table; return their names.

    Schema evolution: a column that only the new files have is added to the table's schema first
    (a metadata-only commit, `TableAlterer.add_columns`; rows written before read it as null),
    like Spark Delta's `mergeSchema`. A missing column or a changed type is refused."""
    from deltalake import Field

    added = _check_schema(table, written_schema, path)
    if added:
        log.warning("adding column(s) %s to %s: rows written before read them as null", added, path)
        table.alter.add_columns([Field.from_arrow(written_schema.field(name)) for name in added])
    return added


def _check_schema(table, written_schema: pa.Schema, path: str) -> list[str]:
    """Refuse files that lack a column of the table or change its type (compared as Delta types);
    return the names of the columns the files add."""
    from deltalake import Schema

    table_types = _delta_types(table.schema())
    written_types = _delta_types(Schema.from_arrow(written_schema))
    extra = sorted(set(written_types) - set(table_types))
    missing = sorted(set(table_types) - set(written_types))
    changed = sorted(
        name
        for name in set(table_types) & set(written_types)
        if table_types[name] != written_types[name]
    )
    if not (missing or changed):
        return extra
    problems = []
    if extra:
        problems.append(
            "extra columns " + ", ".join(f"{n} ({_type_text(written_types[n])})" for n in extra)
        )
    if missing:
        problems.append(
            "missing columns " + ", ".join(f"{n} ({_type_text(table_types[n])})" for n in missing)
        )
    if changed:
        problems.append(
            "changed types "
            + ", ".join(
                f"{n}: table {_type_text(table_types[n])}, DataFrame {_type_text(written_types[n])}"
                for n in changed
            )
        )
    raise TableWriteError(
        f"refusing to write {path}: the DataFrame's schema differs from the table's: "
        + "; ".join(problems)
        + ". Select and cast the DataFrame's columns to the table schema (columns may be added; "
        "removing or retyping one needs a migration, see CONTRACTS.md). The table is unchanged."
    )


def _delta_types(schema) -> dict[str, Any]:
    """Column name -> Delta type (JSON form) with nullability flags removed."""
    return {
        field["name"]: _strip_nullability(field["type"])
        for field in json.loads(schema.to_json())["fields"]
    }


def _strip_nullability(delta_type: Any) -> Any:
    if isinstance(delta_type, dict):
        return {
            key: _strip_nullability(value)
            for key, value in delta_type.items()
            if key not in ("nullable", "containsNull", "valueContainsNull", "metadata")
        }
    if isinstance(delta_type, list):
        return [_strip_nullability(item) for item in delta_type]
    return delta_type


def _type_text(delta_type: Any) -> str:
    return delta_type if isinstance(delta_type, str) else json.dumps(delta_type)


def _check_plain_readable(table, path: str) -> None:
    """Refuse tables whose rows are not just the listed files' rows (so Spark would misread)."""
    protocol = table.protocol()
    features = set(protocol.reader_features or [])
    unsupported = sorted(features - PLAIN_READER_FEATURES)
    if protocol.min_reader_version == 2 or unsupported:
        raise InputDataError(
            f"Delta table {path} needs reader features the delta-rs backend cannot give Spark "
            f"(reader version {protocol.min_reader_version}, features "
            f"{unsupported or ['columnMapping']}); read it on Spark with the Delta JARs, or "
            "rewrite it without deletion vectors / column mapping"
        )
    partition_columns = table.metadata().partition_columns
    if partition_columns:
        paths = table.get_add_actions(flatten=True).column("path").to_pylist()
        for relative in paths:
            segments = relative.split("/")[:-1]
            for column in partition_columns:
                if not any(segment.startswith(f"{column}=") for segment in segments):
                    raise InputDataError(
                        f"Delta table {path}: file {relative!r} is not under a '{column}=...' "
                        "folder, so Spark cannot read its partition value from the path; read "
                        "it on Spark with the Delta JARs"
                    )


def _add_action(staged_file: _StagedFile, footer: pq.FileMetaData, run_date: datetime.date):
    from deltalake.transaction import AddAction

    return AddAction(
        path=staged_file.relative_path,
        size=staged_file.size,
        partition_values={PARTITION_COLUMN: run_date.isoformat()},
        modification_time=staged_file.modification_time_ms,
        data_change=True,
        stats=parquet_file_stats_json(footer),
    )


def _delete_file(filesystem: pafs.FileSystem, path: str) -> None:
    try:
        filesystem.delete_file(path)
    except FileNotFoundError:
        pass
    except OSError as error:  # an unreferenced file: readers never see it, vacuum removes it
        log.warning("could not delete abandoned file %s: %s", path, error)


def _remove_stale_staging(filesystem: pafs.FileSystem, staging_dir: str) -> None:
    """Delete the staging folders of writes that died more than STALE_STAGING_SECONDS ago.

    Readers never see them (nothing in the log points there); this only frees the space. Folders
    whose store reports no modification time (object stores) are left to the storage lifecycle."""
    try:
        entries = filesystem.get_file_info(pafs.FileSelector(staging_dir, allow_not_found=True))
    except OSError as error:
        log.warning("could not list %s: %s", staging_dir, error)
        return
    now = datetime.datetime.now(datetime.timezone.utc)
    for entry in entries:
        if entry.type == pafs.FileType.Directory and entry.mtime is not None:
            mtime = entry.mtime if entry.mtime.tzinfo else entry.mtime.replace(tzinfo=datetime.timezone.utc)
            if (now - mtime).total_seconds() > STALE_STAGING_SECONDS:
                log.info("removing the staging folder of an interrupted write: %s", entry.path)
                _delete_dir(filesystem, entry.path)


def _delete_dir(filesystem: pafs.FileSystem, path: str) -> None:
    try:
        filesystem.delete_dir(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        log.warning("could not delete staging folder %s: %s", path, error)
