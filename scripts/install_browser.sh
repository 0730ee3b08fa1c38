#!/usr/bin/env bash
# The browser the report tests open report.html in: Debian's chromium, installed when missing.
# Playwright drives it (executable_path=/usr/bin/chromium); `playwright install` is never run, since
# it downloads its own browser builds. Every network wait is bounded.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing: run as root, or apt-get install -y chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_options=(-o Acquire::http::Timeout=60 -o Acquire::Retries=3 -o DPkg::Lock::Timeout=300)
timeout 600 apt-get "${apt_options[@]}" update -q
timeout 900 apt-get "${apt_options[@]}" install -y -q chromium
chromium --version
