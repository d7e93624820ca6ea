"""Store: the Parquet warehouse, its load log and the DuckDB catalog; the only place that knows
the engines (DuckDB, Spark) and the file layout. May import ``ingest`` and the base modules."""
