"""Fixtures of the nginx scenario (defined in edge_helpers, shared with nginx_modern)."""

from edge_helpers import _only_droplets, name, sslyze  # noqa: F401
