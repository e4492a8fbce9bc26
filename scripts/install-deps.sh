#!/usr/bin/env bash
# Install the Debian packages the test suite runs for real: PostgreSQL, Dovecot, swaks,
# openssl, gpgsm, headless Chromium. Idempotent: installs only what is missing.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
have dovecot || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
have swaks || need+=(swaks)
have openssl || need+=(openssl)
# gpgsm plays a partner LA with only a mail client; it needs gpg-agent, which it only
# recommends (through gnupg).
have gpgsm || need+=(gpgsm)
have gpg-agent || need+=(gpg-agent)
# Browser tests drive chromium through Playwright (no chromedriver); liberation fonts make
# the screenshots readable.
have chromium || need+=(chromium)
[ -d /usr/share/fonts/truetype/liberation ] || need+=(fonts-liberation)
have runuser || need+=(util-linux)
have setpriv || need+=(util-linux)
have npm || need+=(npm)
# WeasyPrint (letters and reports as PDF) needs Pango.
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0' || need+=(libpango-1.0-0 libpangoft2-1.0-0)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages' own services are not wanted: the tests start throwaway instances.
$SUDO service postgresql stop >/dev/null 2>&1 || true
$SUDO service dovecot stop >/dev/null 2>&1 || true
