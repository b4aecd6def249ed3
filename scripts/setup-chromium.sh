#!/usr/bin/env bash
# Installs Debian's chromium package when no chromium is on the PATH: the
# status page's browser test (integration/status_page_test.go) drives it
# headless. `make test` and `make test-integration` run this script first;
# it does nothing when chromium is there. It needs apt-get and root (or
# sudo). Set PRISM_CHROMIUM to use another Chromium or Chrome binary.
set -euo pipefail

if [ -n "${PRISM_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-chromium: chromium is missing and there is no apt-get: install Chromium and set PRISM_CHROMIUM" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "setup-chromium: installing Debian's chromium package" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version >&2 2>/dev/null || true
