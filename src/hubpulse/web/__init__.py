"""Web: the dashboard and its JSON API (FastAPI app, routers, templates).
May import ``present`` and every lower stage; never ``cli``."""
