"""Ingest: any input (snapshot files, hub-stats dumps, download series, the live Hub) becomes
canonical rows. May import only the base modules (``errors``, ``settings``) and ingest itself."""
