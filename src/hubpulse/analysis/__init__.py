"""Analysis in three rooms, lowest first: ``snapshot`` (what a snapshot implies), ``history``
(monthly estimates and questions over time), ``claims`` (comparisons and audits). A room may
import the rooms below it, ``store``, ``ingest`` and the base modules, never one above."""
