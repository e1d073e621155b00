"""anp-synth: synthetic posts, idempotent imports and load tests for content sites."""

__version__ = "0.1.0"

__all__ = ["__version__"]
