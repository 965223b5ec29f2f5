"""Fixtures and helpers come from the nginx scenario's edge_helpers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "nginx" / "tests"))

from edge_helpers import _only_droplets, name, sslyze  # noqa: F401
