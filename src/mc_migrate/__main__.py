"""Allow ``python -m mc_migrate``."""

from mc_migrate.cli import main

raise SystemExit(main())
