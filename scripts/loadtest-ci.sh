#!/usr/bin/env bash
# The load-test job of docs/ci.md (GitHub Actions and GitLab CI both run this file):
# start the reference site, import posts, load-test it against the last release's
# baseline when there is one, and leave the reports in $ANP_CI_OUT:
#   junit.xml (JUnit), comment.md (pull-request comment), loadtest/ (summary.json, Locust's
#   report.html, …), baseline.json (this run, for the next release).
# The exit code is anp-synth loadtest's (docs/ci.md has the table).
# tests/loadtest/test_ci_script.py runs it as it is, with a short duration.
set -euo pipefail

OUT=${ANP_CI_OUT:-out/ci}
PORT=${ANP_CI_PORT:-8000}
POSTS=${ANP_CI_POSTS:-200}
DURATION=${ANP_CI_DURATION:-60s}
BASELINE=${ANP_CI_BASELINE:-baseline/baseline.json}  # the last release's, if downloaded
THRESHOLDS=${ANP_CI_THRESHOLDS:-}
PY=${ANP_CI_PYTHON:-python3}
URL="http://127.0.0.1:$PORT"

mkdir -p "$OUT"
# the import token: from the CI's secret store if set, else a fresh one (never printed)
ANP_SITE_TOKEN=${ANP_SITE_TOKEN:-$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')}
export ANP_SITE_TOKEN

anp-synth site serve --db "$OUT/site.db" --port "$PORT" --no-access-log >"$OUT/site.log" 2>&1 &
site=$!
trap 'kill "$site" 2>/dev/null || true; wait "$site" 2>/dev/null || true' EXIT

for _ in $(seq 120); do  # at most 60 s
  if "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "$URL/health" 2>/dev/null; then
    break
  fi
  sleep 0.5
done

anp-synth generate --seed 2852 --count "$POSTS" -o "$OUT/posts.jsonl" -q
ANP_TARGET_TOKEN=$ANP_SITE_TOKEN anp-synth import "$OUT/posts.jsonl" --target "$URL" \
  --ledger "$OUT/ledger.sqlite" --quiet

args=(--target "$URL" --ledger "$OUT/ledger.sqlite" --duration "$DURATION"
  --out "$OUT/loadtest" --junit "$OUT/junit.xml" --markdown "$OUT/comment.md"
  --save-baseline "$OUT/baseline.json")
# the site wrote its demo users beside its database: the member scenario logs in as them
# (fixtures/loadtest-thresholds.toml holds a logged-in route to a threshold)
if [ -f "$OUT/site.db.users.json" ]; then args+=(--accounts "$OUT/site.db.users.json"); fi
if [ -f "$BASELINE" ]; then args+=(--baseline "$BASELINE"); fi
if [ -n "$THRESHOLDS" ]; then args+=(--thresholds "$THRESHOLDS"); fi
# shellcheck disable=SC2086 # ANP_CI_ARGS: further options, word-split on purpose
anp-synth loadtest "${args[@]}" ${ANP_CI_ARGS:-}
