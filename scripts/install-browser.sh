#!/bin/sh
# Makes sure the Debian tools that tests drive are installed:
#   - headless Chromium and its driver (packages chromium, chromium-driver; /usr/bin/chromium),
#     for the browser tests (tests/browser/);
#   - zbarimg (package zbar-tools; /usr/bin/zbarimg), which decodes the QR code of a
#     certificate PDF in tests/test_documents_pdf.py.
# Idempotent: a tool already there is left alone, and when both are there it does nothing.
# Otherwise it installs the missing packages with apt-get, refreshing the package lists only
# when the first attempt fails. Uses sudo when not run as root.
# Playwright's own browser download is never used: it cannot reach the network here and
# would bring a second, unpinned browser.
set -u

CHROMIUM=/usr/bin/chromium
ZBARIMG=/usr/bin/zbarimg

say() { printf 'install-browser: %s\n' "$*"; }
fail() {
    printf 'install-browser: ERROR: %s\n' "$*" >&2
    exit 1
}

PACKAGES=""
if [ -x "$CHROMIUM" ]; then
    say "$CHROMIUM is already installed ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))."
else
    PACKAGES="chromium chromium-driver"
fi
if [ -x "$ZBARIMG" ]; then
    say "$ZBARIMG is already installed."
else
    PACKAGES="${PACKAGES:+$PACKAGES }zbar-tools"
fi
if [ -z "$PACKAGES" ]; then
    say "nothing to do."
    exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
    fail "apt-get is not available: install Debian's packages ($PACKAGES) by hand."

if [ "$(id -u)" = "0" ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    fail "installing $PACKAGES needs root, and sudo is not available. Run as root: apt-get install $PACKAGES"
fi

install() {
    # shellcheck disable=SC2086  # the package list is meant to split into words
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES
}

say "missing: installing $PACKAGES with apt-get${SUDO:+ (through sudo)}."
if ! install; then
    say "apt-get install failed; running apt-get update and trying once more."
    $SUDO apt-get update || fail "apt-get update failed; cannot install $PACKAGES."
    install || fail "apt-get install $PACKAGES failed after apt-get update."
fi

[ -x "$CHROMIUM" ] || fail "apt-get reported success but $CHROMIUM is still missing."
[ -x "$ZBARIMG" ] || fail "apt-get reported success but $ZBARIMG is still missing."
say "installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") and $ZBARIMG."
