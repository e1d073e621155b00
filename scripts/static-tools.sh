#!/usr/bin/env bash
# Install the static-site generators the static sinks are tested against: Hugo and Jekyll
# (with jekyll-feed) from Debian's packages, Eleventy from the npm registry at the version
# pinned in tools/eleventy/package-lock.json (with the machine's Node.js), and nginx to serve a
# built site. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in hugo jekyll ruby-jekyll-feed; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "static-tools: apt-get install ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# nginx (Debian) serves a built site for the load test (scripts/static-serve.sh; ~10 s).
bash scripts/static-serve.sh install

if [ -f tools/eleventy/package-lock.json ] && [ ! -x tools/eleventy/node_modules/.bin/eleventy ]; then
  echo "static-tools: npm ci in tools/eleventy" >&2
  (cd tools/eleventy && npm ci --no-audit --no-fund --loglevel=error)
fi
