"""Rule 7: the line reader's maximum line length; a longer line is quarantined by number,
never read into memory whole."""

from __future__ import annotations

import io

import orjson

from anp_synth.cli import main
from anp_synth.jsonl import MAX_LINE_BYTES, iter_lines
from anp_synth.sinks.memory import reset_store, store_for
from tests.importer.posts import post, write_jsonl


class _Watched(io.BytesIO):
    """A stream that remembers the largest piece any read handed out."""

    largest = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        line = super().readline(size)
        self.largest = max(self.largest, len(line))
        return line


def test_a_line_over_the_limit_is_an_error_with_its_number_read_in_pieces() -> None:
    long_line = b'{"title": "' + b"x" * (3 * MAX_LINE_BYTES) + b'"}\n'
    stream = _Watched(orjson.dumps(post(1)) + b"\n" + long_line + orjson.dumps(post(2)) + b"\n")
    lines = list(iter_lines(stream))
    assert [ln.number for ln in lines] == [1, 2, 3]
    assert lines[0].error is None and lines[2].error is None
    assert lines[2].value["source_id"] == "alphanode-000002"
    assert lines[1].error == (
        f"line of {len(long_line) - 1:,} bytes is longer than the limit of {MAX_LINE_BYTES:,}"
    )
    assert len(lines[1].raw) <= 200
    assert stream.largest <= MAX_LINE_BYTES + 1


def test_a_line_of_exactly_the_limit_is_read() -> None:
    line = b'"' + b"a" * (MAX_LINE_BYTES - 2) + b'"'
    assert len(line) == MAX_LINE_BYTES
    (got,) = list(iter_lines(io.BytesIO(line + b"\n")))
    assert got.error is None and got.value == "a" * (MAX_LINE_BYTES - 2)


def test_import_quarantines_the_long_line_by_number_and_imports_the_rest(tmp_path, capsys) -> None:
    target = "memory://long-lines"
    big = post(3)
    big["lead"] = "y" * (MAX_LINE_BYTES + 10)
    path = write_jsonl(tmp_path / "p.jsonl", [post(1), big, post(2)])
    led = tmp_path / "l.sqlite"
    try:
        code = main(["import", str(path), "--target", target, "--sink", "memory",
                     "--ledger", str(led), "-q"])  # fmt: skip
        assert code == 3
        assert sorted(store_for(target).posts) == ["alphanode-000001", "alphanode-000002"]
    finally:
        reset_store(target)
    q = [orjson.loads(x) for x in (tmp_path / "l.sqlite.runs" / "run-1.quarantine.jsonl").read_bytes().splitlines()]  # fmt: skip
    assert [(r["line"], r["kind"]) for r in q] == [(2, "input")]
    assert "longer than the limit" in q[0]["reason"]
