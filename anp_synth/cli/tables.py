"""Tables on the terminal with every value whole: never cut ("…"), never wrapped mid-word.

A table that fits the terminal, or goes to a pipe or a file, prints as a table at its own
width; one wider than the terminal prints each row as a block of `header  value` lines, so
that a file name, a URL or a source id is always there whole. rich is imported when used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def print_rows(
    console: Console, title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """Print `rows` under `headers`: as a table when it fits, else one block per row."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*row)
    from rich.console import Console

    natural = Console(width=100_000).measure(table).maximum
    if natural <= console.width:
        console.print(table)
        return
    if not console.is_terminal:  # a pipe or a file has no width: the table's own
        Console(file=console.file, width=natural, highlight=False).print(table)
        return
    if title:
        console.print(title, markup=False, highlight=False)
    width = max(len(h) for h in headers)
    for row in rows:
        console.print("", markup=False)
        for header, value in zip(headers, row, strict=True):
            if value:
                console.print(f"  {header:<{width}}  {value}", markup=False, highlight=False,
                              soft_wrap=True)  # fmt: skip
