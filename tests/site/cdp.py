"""A headless Chromium driven over the DevTools protocol, on a pipe (stdlib only).

    with Browser(chromium, profile_dir) as browser:
        browser.set_cookie("anp_session", value, url)
        visit = browser.visit(url, shot_path)   # console errors, failed requests, screenshot

`--remote-debugging-pipe` reads JSON commands on the child's fd 3 and writes answers and
events on its fd 4, each message ended by a NUL byte. Chromium runs in a process group of
its own and is stopped by that group (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from anp_synth.processes import stop_group

PAGE_TIMEOUT_S = 30.0
QUIET_S = 0.5  # after the load event, wait until no request has started or ended this long


@dataclass
class Visit:
    """What one page load did, as the browser saw it."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # transport failures and HTTP >= 400
    requested: list[str] = field(default_factory=list)


class Browser:
    """Chromium on a DevTools pipe: one tab, attached, with network, console and log events."""

    def __init__(self, executable: str, profile: Path, size: tuple[int, int] = (1200, 1400)):
        self.executable = executable
        self.profile = profile
        self.size = size
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.session = ""

    def __enter__(self) -> Browser:
        to_child, from_parent = os.pipe()  # the child's fd 3: commands
        to_parent, from_child = os.pipe()  # the child's fd 4: answers and events
        child_fds = (to_child, from_child)

        def _on_fds_3_and_4() -> None:  # runs in the child between fork and exec
            os.dup2(child_fds[0], 3)
            os.dup2(child_fds[1], 4)

        width, height = self.size
        self.process = subprocess.Popen(
            [self.executable, "--headless=new", "--no-sandbox", "--disable-gpu"]
            + ["--hide-scrollbars", "--no-first-run", "--remote-debugging-pipe"]
            + [f"--user-data-dir={self.profile}", f"--window-size={width},{height}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4, *child_fds),  # 3 and 4 survive the closing of the rest
            preexec_fn=_on_fds_3_and_4,  # noqa: PLW1509 (single-threaded test process)
            start_new_session=True,
        )
        os.close(to_child)
        os.close(from_child)
        self._write, self._read = from_parent, to_parent
        # The tab Chromium opened at start: a second tab would be a background one (throttled).
        deadline = time.monotonic() + PAGE_TIMEOUT_S
        pages: list[str] = []
        while not pages and time.monotonic() < deadline:
            found = self.call("Target.getTargets")["targetInfos"]
            pages = [t["targetId"] for t in found if t["type"] == "page"]
            time.sleep(0 if pages else 0.1)
        if not pages:
            raise TimeoutError("chromium opened no tab")
        target = pages[0]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self.process = self.process, None
        for fd in (self._write, self._read):
            with contextlib.suppress(OSError):
                os.close(fd)
        if process is not None:
            stop_group(process)

    # -- the protocol ------------------------------------------------------------------------

    def call(self, method: str, timeout: float = PAGE_TIMEOUT_S, **params: Any) -> dict[str, Any]:
        """Send one command (to the tab once attached) and wait for its answer."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = None
            for reply in self._receive(deadline - time.monotonic()):
                if reply.get("id") == self._next_id:
                    answer = reply
                else:  # events, also those that came in the same read after the answer
                    self._events.append(reply)
            if answer is not None:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method}: no answer within {timeout:.0f} s")

    def _receive(self, timeout: float) -> list[dict[str, Any]]:
        ready, _, _ = select.select([self._read], [], [], max(timeout, 0))
        if not ready:
            return []
        chunk = os.read(self._read, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed its DevTools pipe (it exited)")
        self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        return [json.loads(m) for m in messages if m]

    def _events_until_quiet(self, deadline: float) -> None:
        loaded = any(e.get("method") == "Page.loadEventFired" for e in self._events)
        last = time.monotonic()
        while time.monotonic() < deadline:
            new = self._receive(0.1)
            self._events.extend(new)
            if any(e.get("method", "").startswith("Network.") for e in new):
                last = time.monotonic()
            loaded = loaded or any(e.get("method") == "Page.loadEventFired" for e in new)
            if loaded and time.monotonic() - last >= QUIET_S:
                return
        recent = [e.get("method") for e in self._events[-5:]]
        raise TimeoutError(
            f"the page did not finish loading in time (load event: {loaded}; {recent})"
        )

    # -- what a test uses --------------------------------------------------------------------

    def set_cookie(self, name: str, value: str, url: str) -> None:
        """Store a cookie for `url`, as a login would."""
        if not self.call("Network.setCookie", name=name, value=value, url=url).get("success"):
            raise RuntimeError(f"chromium refused the cookie {name}")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def visit(self, url: str, screenshot: Path) -> Visit:
        """Load `url`, wait until the network is quiet, take a full-window screenshot."""
        self._events.clear()
        self.call("Page.navigate", url=url)
        self._events_until_quiet(time.monotonic() + PAGE_TIMEOUT_S)
        shot = self.call("Page.captureScreenshot", format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return self._summary(url)

    def _summary(self, url: str) -> Visit:
        visit = Visit(url)
        urls: dict[str, str] = {}
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
                visit.requested.append(params["request"]["url"])
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                visit.failed.append(f"{params['response']['status']} {params['response']['url']}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                where = urls.get(params["requestId"], "?")
                visit.failed.append(f"{params.get('errorText')} {where}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                thrown = details.get("exception", {}).get("description", "")
                visit.console_errors.append(f"{details.get('text', 'exception')} {thrown}".strip())
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                args = params.get("args", [])
                visit.console_errors.append(" ".join(str(a.get("value", "")) for a in args))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                visit.console_errors.append(params["entry"].get("text", ""))
        return visit
