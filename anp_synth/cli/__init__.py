"""The `anp-synth` command line: a thin typer layer over the library.

Errors are turned into one line on stderr and an exit code here, and only here.
"""

from __future__ import annotations

import sys

import click
import typer
from rich.console import Console

from anp_synth.errors import AnpError, ExitCode, UsageError, option_flag

try:  # typer >= 0.2x ships its own copy of click; older ones use click itself
    from typer._click.exceptions import ClickException as _TyperClickException
    from typer._click.exceptions import NoArgsIsHelpError as _TyperNoArgsIsHelp
except ImportError:  # pragma: no cover - depends on the installed typer
    _TyperClickException = click.ClickException  # type: ignore[misc, assignment]
    _TyperNoArgsIsHelp = click.exceptions.NoArgsIsHelpError  # type: ignore[misc, assignment]
_CLICK_ERRORS = (click.ClickException, _TyperClickException)
_NO_ARGS = (click.exceptions.NoArgsIsHelpError, _TyperNoArgsIsHelp)
_ABORTS = (click.exceptions.Abort, typer.Abort)
_EXITS = (click.exceptions.Exit, typer.Exit)

app = typer.Typer(
    name="anp-synth",
    help="Generate synthetic posts, import them idempotently, load-test the site.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    _state["debug"] = debug


def _register() -> None:
    from anp_synth.cli import generate

    generate.register(app)
    from anp_synth.cli import loadtest

    loadtest.register(app)
    from anp_synth.cli import importer

    importer.register(app)
    from anp_synth.cli import site

    site.register(app)

    from anp_synth.cli import wordpress

    wordpress.register(app)


_register()


def describe(exc: AnpError) -> str:
    """An error as the user reads it: a concept the library names becomes its --option."""
    if isinstance(exc, UsageError) and exc.option:
        return f"{option_flag(exc.option)}: {exc.reason}"
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, map library errors to one stderr line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    _state["debug"] = False  # main() may run many times in one process (tests)
    try:
        # typer returns an Exit's code instead of raising it here (Ctrl-C is Exit(130))
        code = app(args=args, standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code:
            if code == 130:
                err.print("interrupted", markup=False)
            return code
    except AnpError as exc:
        if _state["debug"] or "--debug" in args:
            err.print_exception()
        err.print(f"error: {describe(exc)}", markup=False)
        return int(exc.exit_code)
    except _ABORTS:
        err.print("aborted", markup=False)
        return int(ExitCode.FATAL)
    except _EXITS as exc:
        return int(exc.exit_code)
    except _NO_ARGS as exc:
        err.print(exc.format_message(), markup=False, highlight=False)
        return int(ExitCode.USAGE)
    except _CLICK_ERRORS as exc:
        # one line naming the option, like our own errors (click's usage block is noise here)
        if _state["debug"] or "--debug" in args:
            err.print_exception()
        message = " ".join(exc.format_message().split())
        err.print(f"error: {message}", markup=False)
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130
    except BrokenPipeError:
        return int(ExitCode.OK)
    return int(ExitCode.OK)


def run() -> None:
    """Console-script wrapper that exits with main()'s code."""
    sys.exit(main())
