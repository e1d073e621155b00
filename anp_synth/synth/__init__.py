"""The deterministic post generator."""

from anp_synth.synth.builder import PostBuilder, build_post

__all__ = ["PostBuilder", "build_post"]
