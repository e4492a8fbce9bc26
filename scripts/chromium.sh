#!/usr/bin/env bash
# Install Debian's headless Chromium and its WebDriver for the console's browser tests.
# Idempotent: does nothing when both binaries are already present.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-liberation
