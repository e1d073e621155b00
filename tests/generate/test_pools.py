"""The shipped per-locale pools are exactly what the pinned Faker makes from the pool seed."""

from __future__ import annotations

from importlib import metadata, resources

import pytest

from anp_synth.generate.vocab import (
    build_locale_pools,
    pools_faker_version,
    pools_file_bytes,
    supported_locales,
)


@pytest.mark.parametrize("locale", supported_locales())
def test_the_shipped_pools_are_what_the_pinned_faker_makes(locale: str) -> None:
    shipped = resources.files("anp_synth.generate").joinpath("data", "pools", f"{locale}.json")
    assert shipped.read_bytes() == pools_file_bytes(build_locale_pools(locale)), (
        f"rebuild with: python -m anp_synth.generate.vocab ({locale})"
    )


@pytest.mark.parametrize("locale", supported_locales())
def test_manifests_record_the_faker_version_that_made_the_pools(locale: str) -> None:
    assert pools_faker_version(locale) == metadata.version("faker")


def test_generating_loads_no_faker() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from anp_synth.generate.builder import build_post\n"
        "build_post(2852, 'standard', 'ja_JP')\n"
        "print('faker' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
