#!/usr/bin/env bash
# Installs the real kubectl (Debian 12's kubernetes-client, 1.20) into .cache/kubectl/ of the repo,
# for the tests that hold the fake API server to a real client. Idempotent; needs no root (it
# downloads the .deb with apt-get download and unpacks it with dpkg -x, installing nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."

dest=.cache/kubectl
if [[ -x "$dest/usr/bin/kubectl" ]] && "$dest/usr/bin/kubectl" version --client >/dev/null 2>&1; then
  exit 0
fi
mkdir -p .cache
work=$(mktemp -d "$PWD/.cache/kubectl-download.XXXXXX")
trap 'rm -rf "$work"' EXIT
# As root, apt warns that the _apt user cannot write here and downloads unsandboxed: harmless.
(cd "$work" && apt-get download -qq kubernetes-client)
rm -rf "$dest"
dpkg -x "$work"/kubernetes-client_*.deb "$dest"
"$dest/usr/bin/kubectl" version --client
