"""Claims: snapshot and month comparisons, audits across definitions and the runs behind the
surfaces. May import ``analysis.history``, ``analysis.snapshot``, ``store``, ``ingest`` and base."""
