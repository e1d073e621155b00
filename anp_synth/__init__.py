"""anp-synth: synthetic posts, idempotent imports and load tests for content sites.

The public API is `__all__`; everything else is an implementation detail. Names load on
first use (PEP 562), so `import anp_synth` stays instant and imports no dependency:

    import anp_synth as anp

    anp.generate_posts(anp.GenerateSpec(seed=1, count=100), "posts.jsonl")
    sink = anp.create_sink("anp", "http://127.0.0.1:8000", token)
    with open("posts.jsonl", "rb") as f:
        summary = anp.Importer(sink, anp.Ledger("ledger.sqlite"), target).run(f, "posts.jsonl")
    result = anp.run_loadtest(anp.LoadTestSettings(target=..., out=...))
"""

__version__ = "0.1.0"

# Public name → "module:attribute". The one place a public name is bound to its home.
_EXPORTS: dict[str, str] = {
    # generate: the dataset writer and what it is asked for
    "generate_posts": "anp_synth.generate.dataset:generate",
    "GenerateSpec": "anp_synth.generate.dataset:Spec",
    "GenerateResult": "anp_synth.generate.dataset:Result",
    # profiles: read one (a name or a file), measure a sample's shape, fit a profile to it
    "Profile": "anp_synth.generate.profile:Profile",
    "load_profile": "anp_synth.generate.profile:resolve",
    "shape_of": "anp_synth.generate.shape:shape_of",
    "fit_profile": "anp_synth.generate.fit:fit",
    # import, rollback, verify
    "Importer": "anp_synth.importer.run:Importer",
    "ImportOptions": "anp_synth.importer.options:Options",
    "ImportSummary": "anp_synth.importer.summary:Summary",
    "Ledger": "anp_synth.importer.ledger:Ledger",
    "RollbackPlan": "anp_synth.importer.rollback:Plan",
    "plan_rollback": "anp_synth.importer.rollback:plan",
    "apply_rollback": "anp_synth.importer.rollback:apply",
    "RollbackResult": "anp_synth.importer.rollback:RollbackResult",
    "verify": "anp_synth.importer.verify:verify",
    "VerifyReport": "anp_synth.importer.verify:Report",
    # load test
    "LoadTestSettings": "anp_synth.loadtest.settings:Settings",
    "LoadTestResult": "anp_synth.loadtest.session:LoadTestResult",
    "run_loadtest": "anp_synth.loadtest.session:run",
    # sinks
    "Sink": "anp_synth.sinks.base:Sink",
    "create_sink": "anp_synth.sinks.registry:create_sink",
    "sink_names": "anp_synth.sinks.registry:sink_names",
    # errors (the whole tree of anp_synth.errors) and exit codes
    "ExitCode": "anp_synth.errors:ExitCode",
    "AnpError": "anp_synth.errors:AnpError",
    "UsageError": "anp_synth.errors:UsageError",
    "InputError": "anp_synth.errors:InputError",
    "SinkError": "anp_synth.errors:SinkError",
    "TransientSinkError": "anp_synth.errors:TransientSinkError",
    "TerminalSinkError": "anp_synth.errors:TerminalSinkError",
    "TargetSetupError": "anp_synth.errors:TargetSetupError",
    "TokenRefusedError": "anp_synth.errors:TokenRefusedError",
    "WordPressSetupError": "anp_synth.errors:WordPressSetupError",
    "TargetDownError": "anp_synth.errors:TargetDownError",
    "SiteStartError": "anp_synth.errors:SiteStartError",
    "LedgerBusyError": "anp_synth.errors:LedgerBusyError",
    "RunTakenOverError": "anp_synth.errors:RunTakenOverError",
    "PartialFailure": "anp_synth.errors:PartialFailure",
    "ApiError": "anp_synth.errors:ApiError",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    """Import a public name's module on first use (PEP 562)."""
    try:
        where = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'anp_synth' has no attribute {name!r}") from None
    import importlib

    module_name, _, attribute = where.partition(":")
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
