"""The worker's side of the sample channel, alone: bounded messages, nothing lost before SETUP.

Run in a subprocess (importing locust monkey-patches the process with gevent),
with a stand-in for Locust's runner that only records what would be sent.
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json
from types import SimpleNamespace
from anp_synth.loadtest.locustfiles import anp_channel

class Runner:
    client_id = "w-test"
    def __init__(self):
        self.sent, self.handlers = [], {}
    def register_message(self, kind, handler, concurrent=False):
        self.handlers[kind] = handler
    def send_message(self, kind, data=None, client_id=None):
        self.sent.append((kind, data))

runner = Runner()
channel = anp_channel.WorkerChannel(runner, lambda doc: None)
line = lambda i: f"/r\t{i}\t1.000\t\t1\t-\t0\n"
channel.send([line(i) for i in range(5)], False)      # before SETUP: held, not dropped
held = [k for k, _ in runner.sent]
runner.handlers[anp_channel.SETUP](None, SimpleNamespace(data={"record": True}))
channel.send([line(i) for i in range(5, 4505)], True)  # 4,500 more, the last of the test
channel.send([], True)                                 # a second "last" sends nothing
samples = [d for k, d in runner.sent if k == anp_channel.SAMPLES]
print(json.dumps({
    "held": held,
    "counts": [d["count"] for d in samples],
    "final": [d["final"] for d in samples],
    "sent": [d["sent"] for d in samples],
    "seq": [d["seq"] for d in samples],
    "first": samples[0]["lines"].splitlines()[0],
    "max_lines": anp_channel.MAX_LINES,
}))
"""


def test_messages_are_bounded_and_samples_before_setup_are_kept() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["held"] == ["anp_hello"]  # only the hello went out before SETUP
    assert doc["counts"] == [2000, 2000, 505] and max(doc["counts"]) <= doc["max_lines"]
    assert doc["final"] == [False, False, True]
    assert doc["sent"] == [2000, 4000, 4505] and doc["seq"] == [1, 2, 3]
    assert doc["first"].split("\t")[1] == "0"  # the held samples went first, in order
