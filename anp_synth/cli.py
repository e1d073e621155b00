"""The `anp-synth` command line: a thin typer layer over the library.

Errors are turned into one line on stderr and an exit code here, and only here.
"""

from __future__ import annotations

import sys

import click
import typer
from rich.console import Console

from anp_synth.errors import AnpError, ExitCode

# typer >= 0.29 raises its own (vendored click) exceptions; catch both kinds.
_tclick_error: type[click.ClickException] = getattr(
    getattr(typer, "_click", None), "ClickException", click.ClickException
)
_ABORT = (click.exceptions.Abort, typer.Abort)
_EXIT = (click.exceptions.Exit, typer.Exit)
_CLICK_ERROR = (click.ClickException, _tclick_error)

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
    from anp_synth.commands import generate

    generate.register(app)
    from anp_synth.commands import loadtest

    loadtest.register(app)
    from anp_synth.commands import importer

    importer.register(app)
    from anp_synth.commands import site

    site.register(app)

    from anp_synth.commands import wordpress

    wordpress.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, map library errors to one stderr line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, standalone_mode=False)
    except AnpError as exc:
        if _state["debug"] or "--debug" in args:
            err.print_exception()
        err.print(f"error: {exc}", markup=False)
        return int(exc.exit_code)
    except _ABORT:
        err.print("aborted", markup=False)
        return int(ExitCode.FATAL)
    except _EXIT as exc:
        return int(exc.exit_code)
    except _CLICK_ERROR as exc:
        exc.show()
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
