#!/usr/bin/env bash
# Build the console's front-end assets (GOV.UK Frontend from npm) into web/static/govuk/.
# The output folder is git-ignored; run this before `make run` and `make test`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="web/static/govuk"

if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi

FRONTEND="node_modules/govuk-frontend/dist/govuk"
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/assets"
npx --no-install sass --quiet-deps --silence-deprecation=import --no-source-map \
    --style=compressed --load-path=. web/assets/app.scss "$OUT.tmp/app.css"
cp "$FRONTEND/govuk-frontend.min.js" "$OUT.tmp/govuk-frontend.min.js"
cp -R "$FRONTEND/assets/images" "$OUT.tmp/assets/images"
cp "$FRONTEND/assets/manifest.json" "$OUT.tmp/assets/manifest.json"
# Swap in one step so a running server never serves half a build.
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "assets: built $OUT"
