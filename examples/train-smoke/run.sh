#!/usr/bin/env bash
# Generate (and on EKS/GKE apply) the GPU smoke job of a stack after `pulumi up`.
#
#   ./run.sh STACK            # e.g. aws-prod, gcp-prod, azure-prod
#
# 1. pulumi stack output --json -s STACK > outputs.STACK.json (skipped with OUTPUTS=file),
# 2. mlops-iac train-smoke writes the job (job.STACK.yaml) and the training script (smoke.py),
# 3. EKS/GKE: mlops-iac train-smoke --apply, which applies the job to the stack's own cluster with
#    its kubeconfig output (aws / gke-gcloud-auth-plugin on PATH), never the current kube context;
#    Azure: az ml job create -f job.STACK.yaml --workspace-name W --resource-group G.
# Needs mlops-iac and the Pulumi CLI on PATH, run from the project directory's examples/ folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="${PROJECT:-$here/../..}"
stack="${1:?usage: run.sh STACK}"
outputs="${OUTPUTS:-$here/outputs.$stack.json}"

if [ -z "${OUTPUTS:-}" ]; then
  pulumi stack output --json --show-secrets -s "$stack" --cwd "$project" > "$outputs"
fi
mlops-iac train-smoke --stack "$stack" --project "$project" --outputs "$outputs" \
  --script "$here/smoke.py" > "$here/job.$stack.yaml"

case "$stack" in
  azure-*)
    cd "$here"
    az ml job create -f "job.$stack.yaml" \
      --workspace-name "$(jq -r .cluster_name "$outputs")" \
      --resource-group "$(jq -r .resource_group_name "$outputs")"
    ;;
  *)
    mlops-iac train-smoke --stack "$stack" --project "$project" --outputs "$outputs" --apply
    echo "watch it: kubectl --kubeconfig <(jq -r .kubeconfig '$outputs') -n mlops-training get trainjobs,rayjobs,pods -w"
    ;;
esac
