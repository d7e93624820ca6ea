"""What a snapshot implies: lineage, families, sizes, per-model dimensions, flags, selection,
rankings and their stored stages. May import ``store``, ``ingest`` and the base modules."""
