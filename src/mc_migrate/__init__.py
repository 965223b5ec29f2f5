"""SQLite to PostgreSQL migration engine for Mission Control.

Public API lives in :mod:`mc_migrate.engine` (``check``, ``run``, ``verify``,
``Options``) and :mod:`mc_migrate.report` (``Report``).  Only the standard
library and psycopg >= 3.1 are required.
"""

__version__ = "0.1.0"
