"""The baseline of bench/loadtest.py: a bare FastHttpUser hitting one URL, nothing else."""

import os

from locust import FastHttpUser, constant, task

URL = os.environ.get("ANP_BENCH_URL", "/")


class Bare(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get(URL)
