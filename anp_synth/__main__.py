"""`python -m anp_synth` is the `anp-synth` command."""

from anp_synth.cli import run

run()
