#!/usr/bin/env bash
# The seed's workflow: version a data file with DVC in the stack's artifact store.
#
#   ./run.sh REPO_DIR
#
# 1. git init and dvc init in REPO_DIR (skipped when already done),
# 2. dvc add the data file (a small sample CSV when REPO_DIR/data/transactions.csv is missing),
# 3. mlops-iac dvc-remote: the artifact store from the stack outputs becomes the default remote,
#    with SSE-KMS under the store's key (the bucket refuses anything else),
# 4. git commit the .dvc pointer and the remote, 5. dvc push.
#
# Environment:
#   STACK             stack whose store is the remote; also the remote's name (default: dev)
#   OUTPUTS           `pulumi stack output --json -s $STACK` (default: outputs.json beside this script)
#   DVC_ENDPOINT_URL  S3 endpoint other than AWS (tests use moto); kept in .dvc/config.local,
#                     which DVC never commits
# Needs git, dvc (pip install 'dvc[s3]') and mlops-iac on PATH, and AWS credentials for the push.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stack="${STACK:-dev}"
outputs="$(realpath "${OUTPUTS:-$here/outputs.json}")"
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

mlops-iac dvc-remote --stack "$stack" --project "$here" --outputs "$outputs" --repo .
if [ -n "${DVC_ENDPOINT_URL:-}" ]; then
  dvc remote modify --local "$stack" endpointurl "$DVC_ENDPOINT_URL"
fi

# The pointer file and the remote are code; the data itself lives in the artifact store.
git add .dvc/config .dvc/.gitignore .dvcignore "$data.dvc" data/.gitignore
git commit --quiet -m "Track $data with DVC in the $stack artifact store"
dvc push
