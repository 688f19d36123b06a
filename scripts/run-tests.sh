#!/bin/sh
# Runs the test suite. Keychain tests need a real Secret Service: when
# gnome-keyring and dbus are installed, the suite runs inside a private D-Bus
# session with a throw-away unlocked keyring (scripts/with-keyring.sh);
# otherwise those tests are skipped and say so.
set -e
cd "$(dirname "$0")/.."
VITEST="$(pwd)/node_modules/.bin/vitest"
if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
  echo "run-tests: running under a private Secret Service (scripts/with-keyring.sh)"
  exec sh scripts/with-keyring.sh "$VITEST" run "$@"
else
  echo "run-tests: gnome-keyring/dbus not installed: keychain tests will be SKIPPED (apt-get install -y gnome-keyring dbus)"
  exec "$VITEST" run "$@"
fi
