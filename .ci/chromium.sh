#!/usr/bin/env bash
# Install Debian's headless Chromium and ChromeDriver for the browser tests of the HTML reports.
# Always exits 0: without them the browser tests skip with a reason.
set -u
say() { echo "chromium.sh: $*"; }
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    say "$(chromium --version 2>/dev/null | head -1) already installed"
    exit 0
fi
say "installing chromium and chromium-driver with apt-get"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
    || { say "could not install chromium (no apt-get, no root, or no network) -- the browser tests will be skipped"; exit 0; }
say "$(chromium --version 2>/dev/null | head -1)"
exit 0
