#!/usr/bin/env bash
# The second machine: clone the data repository and pull the data from the artifact store.
#
#   ./pull.sh REPO_URL CLONE_DIR
#
# The remote comes with the clone (.dvc/config is committed); credentials are this machine's own
# (az login / gcloud ADC / AWS profile, or CI's federation: docs/dvc.md).
# Environment: DVC_LOCAL_CONFIG  a file copied to .dvc/config.local first (tests: the emulator).
set -euo pipefail

src="${1:?usage: pull.sh REPO_URL CLONE_DIR}"
dest="${2:?usage: pull.sh REPO_URL CLONE_DIR}"
git clone --quiet "$src" "$dest"
cd "$dest"
if [ -n "${DVC_LOCAL_CONFIG:-}" ]; then
  cp "$DVC_LOCAL_CONFIG" .dvc/config.local
fi
dvc pull
