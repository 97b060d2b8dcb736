"""The dashboard and HTTP API: one FastAPI app over the library (``barrage serve``).

Public API::

    from barrage.web import Settings, create_app
    app = create_app(Settings(db="barrage.duckdb"))
"""

from barrage.web.app import create_app
from barrage.web.settings import Settings

__all__ = ["Settings", "create_app"]
