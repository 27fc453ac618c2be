#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (root) or a developer box.
# 1. Debian packages (only when root and missing): bcc from Debian, never from PyPI.
# 2. .venv with the Python dependencies (re-installed only when pyproject.toml changes).
# 3. bcc's pure-Python module made visible inside the venv through a .pth file.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
PY=${PYTHON:-python3}
APT_PKGS="python3-bpfcc libbpfcc linux-headers-amd64 clang ethtool iproute2 bpftool"

missing=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: note: Debian packages missing (need root to install):$missing" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.enatool-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python dependencies"
  .venv/bin/pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v "is ignored: it is neither" || true
  .venv/bin/python -c "import enatool, numba, numpy, click, pyroute2" 
  touch "$stamp"
fi

# Debian's bcc module through a directory that holds only that package (no Debian numpy).
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -d /usr/lib/python3/dist-packages/bcc ]; then
  mkdir -p .venv/bcc-only
  ln -sfn /usr/lib/python3/dist-packages/bcc .venv/bcc-only/bcc
  echo "$here/.venv/bcc-only" > "$site/enatool-bcc.pth"
fi
