#!/usr/bin/env bash
# Install the real mail components the intake tests use: Dovecot (IMAP) and swaks (an
# independent SMTP client). Idempotent: does nothing when both are already present.
set -euo pipefail

need=()
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
command -v swaks >/dev/null 2>&1 || need+=(swaks)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y --no-install-recommends "${need[@]}"
