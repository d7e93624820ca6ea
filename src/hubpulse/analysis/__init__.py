"""Analysis: lineage, families, metrics, the per-snapshot analysis every surface loads, the
monthly estimator and questions over time. May import ``store``, ``ingest`` and the base modules."""
