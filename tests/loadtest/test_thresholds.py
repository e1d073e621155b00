from pathlib import Path

import pytest

from anp_synth.errors import InputError
from anp_synth.loadtest import thresholds
from anp_synth.loadtest.stats import AGGREGATE, RouteStats

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "loadtest-thresholds.toml"


def row(route: str, p95: float = 10.0, failures: int = 0, requests: int = 100, rps: float = 50.0):
    return RouteStats(route, requests, failures, rps, p95 / 2, p95, p95 * 1.5, p95 * 2, p95 / 2)


def test_example_fixture_parses() -> None:
    t = thresholds.load(FIXTURE)
    assert t.global_.p95_ms is not None
    assert "/posts/[slug]" in t.routes
    assert 0 < t.baseline.alpha < 1


def test_global_applies_to_aggregate_and_routes_to_their_row() -> None:
    t = thresholds.parse(
        """
        [global]
        p95_ms = 100
        max_failure_ratio = 0.05
        [routes."/a"]
        p95_ms = 20
        min_rps = 10
        """
    )
    ok = [row("/a", p95=15), row("/b", p95=90), row(AGGREGATE, p95=80)]
    assert thresholds.evaluate(t, ok) == []
    bad = [row("/a", p95=25, rps=5), row(AGGREGATE, p95=150, failures=10)]
    got = {(b.route, b.metric) for b in thresholds.evaluate(t, bad)}
    assert got == {
        ("/a", "p95_ms"),
        ("/a", "min_rps"),
        (AGGREGATE, "p95_ms"),
        (AGGREGATE, "max_failure_ratio"),
    }


def test_a_route_without_requests_is_a_breach() -> None:
    t = thresholds.parse('[routes."/missing"]\np95_ms = 10\n')
    breaches = thresholds.evaluate(t, [row(AGGREGATE)])
    assert [(b.route, b.metric) for b in breaches] == [("/missing", "requests")]
    assert breaches[0].bound == "> 0" and breaches[0].actual == 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[global]\np96_ms = 1\n", "global.p96_ms"),
        ('[global]\np95_ms = "fast"\n', "global.p95_ms"),
        ("[global]\nmax_failure_ratio = 2\n", "global.max_failure_ratio"),
        ("[global]\np95_ms = -1\n", "global.p95_ms"),
        ("[baseline]\nbeta = 1\n", "baseline.beta"),
        ("[extra]\n", "extra"),
    ],
)
def test_bad_files_name_the_field(text: str, field: str) -> None:
    with pytest.raises(InputError) as exc:
        thresholds.parse(text, "t.toml")
    assert exc.value.field == field
    assert "t.toml" in str(exc.value)


def test_invalid_toml_and_missing_file(tmp_path) -> None:
    with pytest.raises(InputError, match="invalid TOML"):
        thresholds.parse("[global\n", "t.toml")
    with pytest.raises(InputError, match="nope.toml: no such file"):
        thresholds.load(tmp_path / "nope.toml")


def _refused(tmp_path, capsys, rules: str, *args: str) -> tuple[int, str]:
    from anp_synth.cli import main

    manifest = tmp_path / "m.json"
    manifest.write_text('{"format": "anp-synth-targets/1", "posts": [{"url": "/"}]}')
    file = tmp_path / "t.toml"
    file.write_text(rules)
    code = main(["loadtest", "--target", "http://127.0.0.1:9", "--manifest", str(manifest),
                 "--out", str(tmp_path / "out"), "--thresholds", str(file), *args])  # fmt: skip
    return code, capsys.readouterr().err.strip().splitlines()[-1]


def test_a_route_no_scenario_makes_is_refused_before_the_run(tmp_path, capsys) -> None:
    code, line = _refused(tmp_path, capsys, '[routes."/post/[slug]"]\np95_ms = 10\n')
    assert code == 2
    assert line.startswith(f"error: {tmp_path / 't.toml'}: field 'routes.\"/post/[slug]\"':")
    assert "no scenario makes it" in line and "/posts/[slug], /, /page/[n]" in line
    assert not (tmp_path / "out" / "settings.json").exists()  # Locust never started


@pytest.mark.parametrize(
    ("route", "args", "why"),
    [
        ("[member] /posts/[slug]", [], "member scenario, which does not run here (it needs an"),
        ("/search", ["--weights", "browser=0"], "browser scenario, which does not run here (its"),
        ("[asset] /media/…", [], "assets scenario, which does not run here (readers fetch no"),
    ],
)
def test_a_route_whose_scenario_does_not_run_is_refused(
    tmp_path, capsys, route: str, args: list[str], why: str
) -> None:
    code, line = _refused(tmp_path, capsys, f'[routes."{route}"]\np95_ms = 10\n', *args)
    assert code == 2 and why in line, line
    assert "[member]" not in line.partition("the routes of this run:")[2]  # no accounts here


def test_with_your_own_locustfile_route_names_are_yours(tmp_path, capsys) -> None:
    locustfile = tmp_path / "mine.py"
    locustfile.write_text("")
    code, line = _refused(tmp_path, capsys, '[routes."/mine"]\np95_ms = 10\n',
                          "--locustfile", str(locustfile))  # fmt: skip
    assert code == 1 and "cannot reach" in line  # past the check, at the (dead) target
