"""CLI command groups; each module has `register(app)` and holds no logic of its own."""
