"""Engines: the Ibis backends the analytics run on.

DuckDB, embedded, is the default and the only engine that writes the warehouse. Spark (the Ibis
PySpark backend, optional extra ``hubpulse[spark]``) reads the same Parquet partitions and runs
the same lineage, attribution and metrics expressions, locally (``local[*]``) or on a cluster.

One difference between engines matters to the code: materialising an intermediate result.
DuckDB's ``Table.cache()`` stores rows and forgets how they were made. Spark's ``cache()`` keeps
the whole logical plan, so an iteration such as the lineage closure (each round built from the
previous rounds) grows a plan whose size doubles every round; ``materialise`` therefore
*checkpoints* on Spark, which stores the rows and truncates the plan.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from hubpulse.errors import EngineError
from hubpulse.ingest.connection import Limits, connect
from hubpulse.settings import Settings

if TYPE_CHECKING:
    from ibis.backends import BaseBackend


SPARK_DEFAULTS: dict[str, str] = {
    "spark.app.name": "hubpulse",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Exact decimal arithmetic as in DuckDB: a weighted sum keeps its 12 decimal places
    # instead of being rounded to 6, so family totals are identical on both engines.
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.session.timeZone": "UTC",
    # DuckDB semantics for indexing: a model id without "/" has no name part (NULL), where
    # Spark 4's ANSI mode would fail the whole query.
    "spark.sql.ansi.enabled": "false",
    # Constraint propagation re-derives predicates over every checkpointed level of the lineage
    # closure: slow on deep plans, and it fails on a union of checkpoints ("key not found").
    "spark.sql.constraintPropagation.enabled": "false",
}
"""Settings hubpulse gives a Spark session it creates (``spark_conf`` settings override them)."""


def connect_duckdb(limits: Limits | None = None, database: str | Path = ":memory:") -> BaseBackend:
    """An Ibis DuckDB backend over ``ingest.connection.connect`` (the one way a DuckDB
    connection is made, with the settings' memory limit, threads and spill folder)."""
    return ibis.duckdb.from_connection(connect(limits, database))


def connect_spark(master: str = "local[*]", conf: dict[str, str] | None = None) -> BaseBackend:
    """An Ibis PySpark backend on a session for ``master`` (created, or the active one)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError(
            "--engine spark needs PySpark: pip install 'hubpulse[spark]' (and Java 17+)"
        ) from exc
    settings = dict(SPARK_DEFAULTS)
    log4j = resources.files("hubpulse.store").joinpath("spark-log4j2.properties")
    settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{log4j}"
    if master.startswith("local"):  # one machine: loopback only, a few partitions, not 200
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        settings["spark.driver.host"] = settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.sql.shuffle.partitions"] = str(max(4, 2 * (os.cpu_count() or 1)))
    settings.update(conf or {})
    builder = SparkSession.builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, bad master URL, ...
        raise EngineError(f"cannot start Spark on {master!r}: {exc}") from exc
    session.sparkContext.setLogLevel("ERROR")
    return _spark_backend().connect(session)


def _spark_backend() -> BaseBackend:
    """Ibis's PySpark backend, with in-memory tables (the family registry, bundled aliases)
    handed to Spark as Arrow: Ibis hands them over as pandas, where pandas 3 turns a missing
    string into NaN and Spark into the string "NaN", so a rule without a regex would match
    nothing."""
    from ibis.backends.pyspark import Backend
    from ibis.backends.pyspark.datatypes import PySparkSchema

    class ArrowMemtables(Backend):  # type: ignore[misc]
        def _register_in_memory_table(self, op: Any) -> None:
            rows = op.data.to_pyarrow(op.schema)
            frame = self._session.createDataFrame(rows, schema=PySparkSchema.from_ibis(op.schema))
            frame.createOrReplaceTempView(op.name)

    if ibis.options.pyspark is None:  # what ibis.pyspark.connect does first
        ArrowMemtables.register_options()
    return ArrowMemtables()


def parquet_sql(files: list[str]) -> str:
    """DuckDB SQL reading ``files`` as one table, columns matched by name."""
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return (
        f"SELECT * FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
    )


def register_views(backend: BaseBackend, views: list[tuple[str, list[str]]]) -> None:
    """(Re)register each (name, Parquet files) as a view of ``backend``, columns matched by
    name; a name without files is dropped."""
    if not is_spark(backend):
        for name, files in views:
            backend.raw_sql(f'DROP VIEW IF EXISTS "{name}"')  # type: ignore[attr-defined]
            if files:
                backend.raw_sql(f'CREATE VIEW "{name}" AS {parquet_sql(files)}')  # type: ignore[attr-defined]
        return
    session = backend._session  # type: ignore[attr-defined]
    for name, files in views:
        session.catalog.dropTempView(name)
        if files:
            session.read.option("mergeSchema", "true").parquet(*files).createOrReplaceTempView(name)


def is_spark(backend: Any) -> bool:
    return getattr(backend, "name", None) == "pyspark"


def materialise(table: ir.Table) -> ir.Table:
    """``table`` computed once and stored in its engine, for the queries that follow."""
    backend = table._find_backend(use_default=True)
    if not is_spark(backend):
        return table.cache()
    backend._run_pre_execute_hooks(table)  # registers in-memory tables the query reads
    frame = backend._session.sql(backend.compile(table)).localCheckpoint(eager=True)
    name = ibis.util.gen_name("hubpulse")
    frame.createOrReplaceTempView(name)
    stored = backend.table(name)
    # Spark may widen or narrow a column (an int64 literal comes back as int32): keep the types
    # the expression declares, so that later unions and joins see the same schema as on DuckDB.
    return stored if stored.schema() == table.schema() else stored.cast(table.schema())


def checkpoint(table: ir.Table) -> ir.Table:
    """``table`` materialised on Spark (whose plans repeat every shared subquery, so a long
    chain of steps reading one another grows past what the driver can plan), unchanged on
    DuckDB (whose optimiser shares them itself)."""
    backend = table._find_backend(use_default=True)
    return materialise(table) if is_spark(backend) else table


def duckdb_limits(settings: Settings) -> Limits:
    """The settings' memory limit, threads and spill folder for every DuckDB connection."""
    return Limits(
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
        spill=settings.warehouse.expanduser() / ".spill",
    )
