"""`buildtest`: how a static site's build time and memory grow with its posts (import, build, fit, judge)."""
