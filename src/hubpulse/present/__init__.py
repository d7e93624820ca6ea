"""Present: console tables, JSON/CSV output, charts and the report (HTML, Markdown, PNG).
May import ``analysis``, ``store``, ``ingest`` and the base modules; never ``web`` or ``cli``."""
