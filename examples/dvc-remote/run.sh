#!/usr/bin/env bash
# The seed's workflow: version a data file with DVC in the stack's artifact store, train on it,
# and record the dataset's hash in the stack's lineage.
#
#   ./run.sh REPO_DIR
#
# 1. git init and dvc init in REPO_DIR (skipped when already done),
# 2. dvc add the data file (a small sample CSV when REPO_DIR/data/transactions.csv is missing),
# 3. mlops-iac dvc-remote: the artifact store from the stack outputs becomes the default remote
#    (AWS: SSE-KMS under the store's key; Azure: container + account; GCP: bucket prefix),
# 4. git commit the .dvc pointer and the remote, 5. dvc push,
# 6. train.py: train on the data and write its md5 to lineage.datasetVersion of the stack file.
# On a second machine, pull.sh clones the repository and pulls the data back.
#
# Environment:
#   STACK             stack whose store is the remote; also the remote's name (default: dev = AWS;
#                     azure-dev, gcp-dev)
#   PROJECT           project holding stacks/Pulumi.$STACK.yaml (default: this directory)
#   OUTPUTS           `pulumi stack output --json -s $STACK` (default: outputs.json for dev,
#                     outputs.$STACK.json otherwise, beside this script)
#   DVC_ENDPOINT_URL  S3 endpoint other than AWS (tests use moto); kept in .dvc/config.local
#   DVC_LOCAL_CONFIG  a file copied to .dvc/config.local (tests: the emulator's endpoint and
#                     credentials); .dvc/config.local is Git-ignored, never committed
# Needs git, dvc (pip install 'dvc[s3,azure,gs]'), python3 and mlops-iac on PATH, and the cloud's
# credentials for the push (docs/dvc.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stack="${STACK:-dev}"
project="$(realpath "${PROJECT:-$here}")"
default_outputs="$here/outputs.json"
[ "$stack" = dev ] || default_outputs="$here/outputs.$stack.json"
outputs="$(realpath "${OUTPUTS:-$default_outputs}")"
repo="${1:?usage: run.sh REPO_DIR}"
data=data/transactions.csv

mkdir -p "$repo/data"
cd "$repo"
[ -d .git ] || git init --quiet
[ -d .dvc ] || dvc init --quiet

if [ ! -e "$data" ]; then
  printf 'transaction_id,amount,is_fraud\n1,12.50,0\n2,9999.99,1\n3,0.99,0\n' > "$data"
fi
dvc add --quiet "$data"

mlops-iac dvc-remote --stack "$stack" --project "$project" --outputs "$outputs" --repo .
if [ -n "${DVC_ENDPOINT_URL:-}" ]; then
  dvc remote modify --local "$stack" endpointurl "$DVC_ENDPOINT_URL"
fi
if [ -n "${DVC_LOCAL_CONFIG:-}" ]; then
  cp "$DVC_LOCAL_CONFIG" .dvc/config.local
fi

# The pointer file and the remote are code; the data itself lives in the artifact store.
git add .dvc/config .dvc/.gitignore .dvcignore "$data.dvc" data/.gitignore
git commit --quiet -m "Track $data with DVC in the $stack artifact store"
dvc push

# Training reads the data DVC tracks and records its hash where the stack's lineage lives.
"${PYTHON:-python3}" "$here/train.py" --stack "$stack" --project "$project" --data "$data"
