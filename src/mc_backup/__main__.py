"""Allow ``python -m mc_backup``."""

from mc_backup.cli import main

raise SystemExit(main())
