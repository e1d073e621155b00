"""What a build test writes: buildtest.json, a Markdown summary, a chart (PNG and SVG) and a
self-contained HTML report that embeds both."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import orjson

from anp_synth.buildtest.run import Result
from anp_synth.buildtest.verdict import KINDS

COLORS = {"cold": "#1f77b4", "warm": "#2ca02c", "incremental": "#d62728"}


def table_rows(result: Result) -> list[list[str]]:
    """The summary table: one row per build kind and volume (or knob value)."""
    out = []
    for r in result.rows:
        w, c, m = r.wall, r.cpu, r.rss
        out.append([
            r.kind, r.at, f"{w.min:.2f}", f"{w.median:.2f}", f"{w.max:.2f}",
            f"{c.median:.2f}", f"{m.median:.0f}", f"{m.max:.0f}",
        ])  # fmt: skip
    return out


HEADERS = ["build", "posts / knob", "wall min s", "wall med s", "wall max s", "cpu med s", "rss med MB",
           "rss max MB"]  # fmt: skip


def fit_lines(result: Result) -> list[str]:
    """One line per build kind: the exponent and seconds per 1,000 posts (or per knob)."""
    largest = max(result.settings.counts)
    axis = result.settings.axis
    lines = []
    for kind, f in result.fits().items():
        if f is None:
            lines.append(f"{kind}: no fit (one {'volume' if axis == 'posts' else 'value'})")
        elif axis != "posts":
            lines.append(
                f"{kind}: time ∝ {axis}^{f.exponent:.2f} (r² {f.r2:.3f}) at {largest:,} posts"
            )
        else:
            lines.append(
                f"{kind}: time ∝ posts^{f.exponent:.2f} (r² {f.r2:.3f}); "
                f"{f.per_1000(largest):.3f} s per 1,000 posts at {largest:,}"
            )
    return lines


def steps_text(result: Result) -> str:
    """What was measured: `Posts 1,000, 5,000`, or `tags 100, 1,000 at 5,000 posts`."""
    s = result.settings
    if s.vary is None:
        return f"Posts {', '.join(f'{n:,}' for n in s.counts)}"
    values = ", ".join(f"{v:,}" for v in s.vary.values)
    return f"{xlabel(result)} {values} at {s.counts[0]:,} posts"


def xlabel(result: Result) -> str:
    """The x axis: posts, or the knob in the profile's words (`tags.distinct`)."""
    vary = result.settings.vary
    return "posts" if vary is None else f"{vary.knob} ({vary.key})"


def markdown(result: Result, verdict_lines: list[str]) -> str:
    """buildtest.md."""
    s = result.settings
    lines = [
        f"# Build test: {s.sink}, `{' '.join(s.build)}`",
        "",
        f"{steps_text(result)} (profile {s.profile}, seeds from "
        f"{s.seed}), each build repeated {s.repeat}×. Total {result.total_s:.1f} s, of which "
        f"anp-synth (generate, import, clean) {result.own_s:.1f} s = {result.own_share:.1%}.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
        *("| " + " | ".join(row) + " |" for row in table_rows(result)),
        "",
        f"Growth with {s.axis} (power-law fit of the median wall time):",
        "",
        *(f"- {line}" for line in fit_lines(result)),
        "",
        f"![build time and peak memory against {s.axis}](buildtest.png)",
    ]
    if verdict_lines:
        lines += ["", "Verdict:", "", *(f"- {v}" for v in verdict_lines)]
    return "\n".join(lines) + "\n"


def chart(result: Result) -> tuple[bytes, bytes]:
    """The chart as PNG and SVG bytes: build time and peak RSS against posts, a line per kind."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "anp-synth"  # stable ids in the SVG
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    steps = result.settings.steps
    log = len(steps) > 1 and min(steps) > 0 and max(steps) / min(steps) >= 10
    for kind in KINDS:
        rows = [r for r in result.rows if r.kind == kind]
        if not rows:
            continue
        xs = [r.x for r in rows]
        med = [r.wall.median for r in rows]
        err = [[m - r.wall.min for m, r in zip(med, rows, strict=True)],
               [r.wall.max - m for m, r in zip(med, rows, strict=True)]]  # fmt: skip
        ax_t.errorbar(xs, med, yerr=err, marker="o", capsize=3, label=kind, color=COLORS[kind])
        ax_m.plot(xs, [r.rss.max for r in rows], marker="o", label=kind, color=COLORS[kind])
    for ax, ylabel in (
        (ax_t, "build wall time (s), median and min–max"),
        (ax_m, "peak RSS of the build (MB)"),
    ):
        ax.set_xlabel(xlabel(result))
        ax.set_ylabel(ylabel)
        if log:
            ax.set_xscale("log")
            if ax is ax_t:
                ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"{result.settings.sink}: {' '.join(result.settings.build)}")
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=110, metadata={"Software": None})
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return png.getvalue(), svg.getvalue()


def html_report(
    result: Result, md_table: list[list[str]], verdict_lines: list[str], svg: bytes, png: bytes
) -> str:
    """A self-contained page: the SVG chart inline, the PNG as a data URI, the table, the fit."""
    s = result.settings
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in md_table
    )
    svg_text = svg.decode()
    svg_text = svg_text[svg_text.find("<svg") :]
    items = "".join(f"<li>{esc(line)}</li>" for line in fit_lines(result))
    verdict = "".join(f"<li>{esc(v)}</li>" for v in verdict_lines)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>build test: {esc(s.sink)}</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}</style>"
        f"</head><body><h1>Build test: {esc(s.sink)}, <code>{esc(' '.join(s.build))}</code></h1>"
        f"<p>{esc(steps_text(result))}, profile {esc(s.profile)}, "
        f"{s.repeat}× each build. anp-synth's own share of the {result.total_s:.1f} s: "
        f"{result.own_share:.1%}.</p>"
        f"<figure>{svg_text}<figcaption>build time and peak memory against "
        f"{esc(s.axis)}</figcaption></figure>"
        f"<table><tr>{head}</tr>{body}</table><h2>Growth</h2><ul>{items}</ul>"
        + (f"<h2>Verdict</h2><ul>{verdict}</ul>" if verdict else "")
        + f'<p>The same chart as PNG:</p><img alt="build time chart" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"></body></html>\n'
    )


def write(result: Result, verdict: dict[str, object], verdict_lines: list[str]) -> dict[str, Path]:
    """Write every output into the settings' folder; their paths by kind."""
    out = result.settings.out
    doc = result.as_dict() | {"verdict": verdict}
    png, svg = chart(result)
    rows = table_rows(result)
    paths = {
        "json": out / "buildtest.json",
        "markdown": out / "buildtest.md",
        "png": out / "buildtest.png",
        "svg": out / "buildtest.svg",
        "html": out / "buildtest.html",
    }
    paths["json"].write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    paths["markdown"].write_text(markdown(result, verdict_lines), encoding="utf-8")
    paths["png"].write_bytes(png)
    paths["svg"].write_bytes(svg)
    paths["html"].write_text(html_report(result, rows, verdict_lines, svg, png), encoding="utf-8")
    return paths
