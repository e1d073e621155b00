"""Fixtures shared across test folders."""

# The WordPress fixtures serve tests/wordpress and the sink contract suite (tests/sinks).
pytest_plugins = ["tests.wordpress.site"]
