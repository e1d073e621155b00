"""Option checking of `anp-synth loadtest`: refused before Locust starts, one line, exit 2."""

import pytest

from anp_synth.cli import main
from anp_synth.errors import UsageError
from anp_synth.loadtest.runner import command, environment
from anp_synth.loadtest.settings import Settings, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60", 60), ("60s", 60), ("2m", 120), ("1m30s", 90), ("1h", 3600), ("2.5s", 2.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "0s", "10x", "-5"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(UsageError, match="^duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--duration", "soon"], "--duration"),
        (["--users", "0"], "--users"),
        (["--processes", "0"], "--processes"),
        (["--target", "ftp://x"], "--target"),
        (["--thresholds", "/nonexistent.toml"], "--thresholds"),
        (["--arrival-rate", "-1"], "--arrival-rate"),
        (["--think", "2,1"], "--think"),
        (["--think", "fast"], "--think"),
        (["--weights", "reader=1,robot=2"], "--weights"),
        (["--weights", "reader=x"], "--weights"),
        (["--cpu-limit", "0"], "--cpu-limit"),
        (["--out", "/proc/version/out"], "--out"),
        (["--save-baseline", "/proc/version/b.json"], "--save-baseline"),
        (["--cache-rules", "/nonexistent.json"], "--cache-rules"),
        (["--similar", "2"], "--similar"),
        (["--hit-tries", "0"], "--hit-tries"),
        (["--page-size", "0"], "--page-size"),
        (["--min-effect-ms", "-1"], "--min-effect-ms"),
        (["--weights", "reader=0,browser=0,member=0,inspector=0"], "--weights"),
        (["--weights", "reader=0,browser=0,inspector=0"], "member needs accounts"),
        (["--accounts", "/nonexistent/users.json"], "--accounts"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, args: list[str], needle: str) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text('{"format": "anp-synth-targets/1", "posts": [{"url": "/"}]}')
    base = ["loadtest", "--target", "http://127.0.0.1:9", "--manifest", str(manifest)]
    base += ["--out", str(tmp_path / "out")]
    code = main(base + args)
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1  # the error alone: nothing was started


def test_command_never_fails_on_a_single_error_and_splits_the_rate(tmp_path, monkeypatch) -> None:
    settings = Settings(
        target="http://127.0.0.1:9/",
        manifest=tmp_path / "m.json",
        out=tmp_path,
        processes=4,
        arrival_rate=100,
        users=50,
        spawn_rate=5,
    )
    cmd = command(settings, tmp_path / "settings.json")
    assert cmd[cmd.index("--exit-code-on-error") + 1] == "0"
    assert cmd[cmd.index("--processes") + 1] == "4"
    # the master and its forked workers on loopback, on the run's own port
    assert cmd[cmd.index("--master-bind-host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--master-host") + 1] == "127.0.0.1"
    port = cmd[cmd.index("--master-bind-port") + 1]
    assert cmd[cmd.index("--master-port") + 1] == port == str(settings.master_port)
    assert cmd[cmd.index("--host") + 1] == "http://127.0.0.1:9"
    assert cmd[cmd.index("-r") + 1] == "50"  # the open model starts every user at once
    assert cmd[cmd.index("--anp-settings") + 1] == str(tmp_path / "settings.json")
    assert "--headless" in cmd
    # each worker process paces its share of the open-model rate
    assert settings.arrival_rate_per_process == pytest.approx(25.0)
    # the settings file alone speaks to the locustfile: no stray variable overrides it
    monkeypatch.setenv("ANP_LOADTEST_WEIGHTS", "reader=0")
    assert not any(name.startswith("ANP_LOADTEST_") for name in environment())


def test_the_cli_never_imports_locust() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import anp_synth.cli, anp_synth.cli.loadtest, anp_synth.loadtest.session;"
        "sys.exit(1 if any(m == 'locust' or m.startswith(('locust.', 'gevent')) for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_saturation_guard_threshold() -> None:
    from anp_synth.loadtest.runner import CpuReport

    assert CpuReport({1: 95.0, 2: 10.0}, host_mean=50.0, samples=10).saturated
    calm = CpuReport({1: 60.0}, host_mean=99.0, samples=10)
    # a busy host alone is recorded, not judged: only a CPU-bound generator is
    assert not calm.saturated and calm.as_dict()["host_mean_pct"] == 99.0


def test_cpu_monitor_sees_a_busy_process_tree() -> None:
    import subprocess
    import sys
    import time

    from anp_synth.loadtest.runner import CpuMonitor

    # a parent that sleeps and a child that spins: the monitor must find the child
    code = (
        "import subprocess, sys, time;"
        "c = subprocess.Popen([sys.executable, '-c', 'import time\\nt=time.time()\\nwhile time.time()-t<4: pass']);"
        "c.wait()"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        now = time.time()
        monitor = CpuMonitor(proc.pid, now + 0.5, now + 3.5)
        monitor.start()
        proc.wait(timeout=30)
        monitor.stop_event.set()
        monitor.join(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    report = monitor.report()
    assert report.samples >= 2
    assert len(report.per_process) == 2
    assert report.generator_max > 20  # one spinning process; the machine is shared, so not ~100


def test_unreachable_target_is_fatal_with_one_line(tmp_path, capsys) -> None:
    from anp_synth.site.launcher import free_port

    manifest = tmp_path / "m.json"
    manifest.write_text('{"format": "anp-synth-targets/1", "posts": [{"url": "/"}]}')
    url = f"http://127.0.0.1:{free_port()}"
    code = main(["loadtest", "--target", url, "--manifest", str(manifest), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot reach {url}" in err and "Traceback" not in err
    assert not (tmp_path / "report.html").exists()  # Locust never started


ACCOUNTS_CASES = [
    # (file content, what the one line must say: the file, its line, the field)
    ('{"users": [\n  {"username": "a", "password": "x"},\n  {"username": "b"}\n]}\n',
     ":3: field 'users[1].password': expected a non-empty string"),
    ('{"users": [\n  {"username": "a",\n   "password": "x",}\n]}\n', ":3: not JSON: "),
    ('{"users": []}', ": field 'users': no accounts"),
    ('{"people": []}', ": field 'users': expected {\"users\""),
    ('{"users": [\n  "alice"\n]}', ":2: field 'users[0]': expected an object"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "needle"), ACCOUNTS_CASES)
def test_a_bad_accounts_file_is_one_line_before_locust(
    tmp_path, capsys, content: str, needle: str
) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text('{"format": "anp-synth-targets/1", "posts": [{"url": "/"}]}')
    accounts = tmp_path / "users.json"
    accounts.write_text(content)
    out = tmp_path / "out"
    code = main(["loadtest", "--target", "http://127.0.0.1:9", "--manifest", str(manifest),
                 "--out", str(out), "--accounts", str(accounts)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(f"error: {accounts}") and needle in err[-1], err
    assert len(err) == 1  # the error alone: nothing was started
    assert not (out / "settings.json").exists()  # refused before Locust was started


def test_a_locust_that_fails_is_one_line_not_its_log(tmp_path, capsys) -> None:
    """Rule 8: the error quotes the log's last line; the log file has the traceback."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    manifest = tmp_path / "m.json"
    manifest.write_text('{"format": "anp-synth-targets/1", "posts": [{"url": "/"}]}')
    broken = tmp_path / "broken.py"
    broken.write_text('raise RuntimeError("this locustfile is broken")\n')
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code = main(["loadtest", "--target", url, "--manifest", str(manifest), "--out",
                     str(tmp_path / "out"), "--locustfile", str(broken), "--duration", "2s"])  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    log = tmp_path / "out" / "locust.log"
    assert err[-1] == (
        f"error: locust exited with 1 (log: {log}): RuntimeError: this locustfile is broken"
    )
    assert "Traceback" in log.read_text()  # the whole story stays in the log
