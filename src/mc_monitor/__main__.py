"""Allow ``python -m mc_monitor``."""

from mc_monitor.cli import main

raise SystemExit(main())
