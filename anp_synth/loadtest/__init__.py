"""Load testing: run the Locust scenarios in a subprocess, judge thresholds and baselines."""
