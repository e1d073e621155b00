"""A locustfile that replays fixed latencies instead of requesting: for the channel tests.

Every process fires its share (sample j goes to generator j mod K) of the same
SAMPLES through Locust's request event, so the recorder and the sample channel
see exactly what a real run would give them, and 1 and K generators must give
the same figures. ANP_TEST_DIE_AFTER=N: generator 1 dies (os._exit) after its
first N samples, once they have been sent. ANP_TEST_PAUSE_S=S: the pause after
every 400 samples (default 0.3 s), so that a test can interrupt mid-replay.
"""

from __future__ import annotations

import os
import time
from typing import Any

import gevent
from locust import User, constant, events, task
from locust.runners import WorkerRunner

from anp_synth.loadtest.locustfiles import anp_channel, anp_support
from tests.loadtest.synthetic_samples import SAMPLES


class _Response:
    def __init__(self, cache: str) -> None:
        self.headers = {"X-Cache": f"{cache}; rule=test"}


class Synthetic(User):
    """Fires this process's share of SAMPLES, then idles until the run ends."""

    wait_time = constant(0)  # (setup applies the run's think time; the task never returns)

    @task
    def replay(self) -> None:
        runner = self.environment.runner
        generators = 1
        index = 0
        if isinstance(runner, WorkerRunner):
            generators = int(self.environment.parsed_options.expect_workers)
            index = runner.worker_index
        die_after = int(os.environ.get("ANP_TEST_DIE_AFTER", "0"))
        pause = float(os.environ.get("ANP_TEST_PAUSE_S", "0.3"))
        fired = 0
        for j, (route, ms, ok, cache) in enumerate(SAMPLES):
            if j % generators != index:
                continue
            self.environment.events.request.fire(
                request_type="GET",
                name=route,
                response_time=ms,
                response_length=0,
                response=_Response(cache),
                context={},
                exception=None if ok else RuntimeError("synthetic failure"),
                start_time=time.time(),
                url=route,
            )
            fired += 1
            if fired % 400 == 0:
                gevent.sleep(pause)  # let the channel send while the run goes on
            if die_after and index == 1 and fired == die_after:
                gevent.sleep(anp_channel.SEND_INTERVAL_S * 2.5)  # the ticker sent them
                os._exit(1)
        gevent.sleep(3600)  # once: the run ends while this user idles


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    anp_support.setup(environment, {"synthetic": Synthetic})
