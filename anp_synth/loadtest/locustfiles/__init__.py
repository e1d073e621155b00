"""The locustfiles `anp-synth loadtest` runs (also plain Locust files: `locust -f`)."""
