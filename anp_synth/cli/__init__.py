"""The `anp-synth` command line: a thin typer layer over the library.

Errors are turned into one line on stderr and an exit code here, and only here.
Every command module imports only the standard library, typer and anp_synth.errors at
its top; the library (and pydantic, httpx, rich tables …) loads inside the command that
runs, so `anp-synth --help` and `--version` start in about the time of `import typer`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import typer
from typer._click.core import Context as _ClickContext
from typer._click.exceptions import ClickException as _ClickException
from typer._click.exceptions import NoArgsIsHelpError as _NoArgsIsHelp
from typer._click.exceptions import NoSuchOption as _NoSuchOption

from anp_synth import __version__
from anp_synth.cli import (
    buildtest,
    generate,
    importer,
    loadtest,
    profile,
    site,
    varnish,
    wordpress,
)
from anp_synth.errors import AnpError, ExitCode, UsageError, option_flag

# Plain help: typer's rich help loads rich.markdown, markdown-it and friends, which
# alone triples the start-up time of `--help` (issue 9). Sub-apps pass the same value.
MARKUP = None


@contextlib.contextmanager
def _pipe_closed_is_exit() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
    except SystemExit as exc:
        # rich's Console.on_broken_pipe exits 1 from inside its `except BrokenPipeError`
        if not isinstance(exc.__context__, BrokenPipeError):
            raise
        raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None


class _Root(typer.core.TyperGroup):
    """The root group: a closed stdout (`| head`) ends any command as ExitCode.BROKEN_PIPE.

    typer would turn it into exit 1 itself, indistinguishable from a fatal error. Help is
    printed while the context is made, a command's output while it is invoked: both covered.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> _ClickContext:
        with _pipe_closed_is_exit():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: _ClickContext) -> Any:
        with _pipe_closed_is_exit():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Root,
    name="anp-synth",
    help="Generate synthetic posts, import them idempotently, load-test the site.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP,
)
_state = {"debug": False, "exit_now": False}


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"anp-synth {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    _state["debug"] = debug


for _module in (generate, profile, loadtest, importer, site, varnish, wordpress, buildtest):
    _module.register(app)


def describe(exc: AnpError) -> str:
    """An error as the user reads it: a concept the library names becomes its --option."""
    if isinstance(exc, UsageError) and exc.option:
        return f"{option_flag(exc.option)}: {exc.reason}"
    return str(exc)


def _say(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except OSError:  # stderr itself closed (`2>&1 | head`): nothing left to tell
        pass


def _flush_stdout() -> bool:
    """Flush what the command printed; False when the reader of stdout has gone."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    else:
        return True
    # Python flushes stdout again at exit and would print "Exception ignored …": point the
    # descriptor at /dev/null first, as the Python documentation advises for SIGPIPE.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real descriptor (a test's captured stdout)
        pass
    return False


def _traceback() -> None:
    from rich.console import Console  # only with --debug

    Console(stderr=True).print_exception()


def _terminated(signum: int, frame: object) -> None:
    # SIGTERM (CI cancelling, `timeout`, `kill`) stops a command exactly like Ctrl-C: the same
    # cleanup runs (an import records its run interrupted, a load test stops Locust's group).
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, map library errors to one stderr line and an exit code."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main_thread else None
    try:
        code = _main(argv)
        if not _flush_stdout():
            return int(ExitCode.BROKEN_PIPE)  # quietly: the reader chose to stop reading
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _command(args: list[str]) -> str:
    """The command (and sub-command) words of a command line, e.g. "site serve"."""
    words = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    return " ".join(words[:2]) or "COMMAND"


def _main(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv
    _state["debug"] = False  # main() may run many times in one process (tests)
    _state["exit_now"] = False
    debug = "--debug" in args
    try:
        # typer returns an Exit's code instead of raising it here (Ctrl-C is Exit(130))
        code = app(args=args, standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code:
            if code == ExitCode.INTERRUPTED:
                _say("interrupted")
            return code
    except AnpError as exc:
        if _state["debug"] or debug:
            _traceback()
        _say(f"error: {describe(exc)}")
        return int(exc.exit_code)
    except typer.Abort:
        _say("aborted")
        return int(ExitCode.FATAL)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except _NoArgsIsHelp as exc:
        _say(exc.format_message())
        return int(ExitCode.USAGE)
    except _NoSuchOption as exc:
        if exc.option_name == "--debug":  # `anp-synth generate --debug`: say where it goes
            _say(f"error: --debug goes before the command: anp-synth --debug {_command(args)} …")
        else:
            _say("error: " + " ".join(exc.format_message().split()))
        return int(ExitCode.USAGE)
    except _ClickException as exc:
        # one line naming the option, like our own errors (click's usage block is noise here)
        if _state["debug"]:
            _traceback()
        _say("error: " + " ".join(exc.format_message().split()))
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    return int(ExitCode.OK)


def exit_without_finalising() -> None:
    """Called by a command that succeeded and holds nothing that needs finalising: `run`
    then ends the process at once instead of having Python free its heap object by object.

    `generate` holds hundreds of thousands of prebuilt variants (~0.1-0.3 s to free at
    exit, in one process and with workers alike); its files are closed, its workers joined.
    """
    _state["exit_now"] = True


def run() -> None:
    """Console-script wrapper that exits with main()'s code."""
    code = main()
    if _state.get("exit_now"):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)
