"""The training step of the seed's workflow: train on the DVC-tracked data, record its hash.

    python train.py --stack STACK --project DIR [--repo REPO] [--data data/transactions.csv]

Reads the dataset's md5 from its ``.dvc`` pointer (the hash DVC pushed to the artifact store),
"trains" (a fraud-rate baseline: enough to show the data was read), and writes ``md5:<hash>`` to
``mlops:platform.lineage.datasetVersion`` of ``DIR/stacks/Pulumi.<STACK>.yaml``, with the same
validated, comment-preserving edit the day-2 commands use. The next ``pulumi up`` tags every
resource with ``mlops:dataset-version`` (GCP: ``mlops-dataset-version``), so the model deployed
from this run points back at exactly this data.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path
from typing import Any

from mlops_iac.cli import OpsError, stackfile
from mlops_iac.cli.stackfile import ROOT


def dataset_md5(pointer: Path) -> str:
    """The ``md5`` of the single output in a ``.dvc`` pointer file."""
    for line in pointer.read_text().splitlines():
        key, _, value = line.strip().lstrip("- ").partition(":")
        if key == "md5" and value.strip():
            return value.strip()
    raise OpsError(f"{pointer} has no md5 (run `dvc add` first)")


def train(data: Path, md5: str) -> dict[str, Any]:
    """A baseline model: the fraud rate. Refuses data that no longer matches its pointer."""
    if hashlib.md5(data.read_bytes()).hexdigest() != md5:
        raise OpsError(f"{data} does not match its .dvc pointer (run `dvc pull` or `dvc add`)")
    rows = list(csv.DictReader(data.open(newline="")))
    frauds = sum(row["is_fraud"] == "1" for row in rows)
    return {"rows": len(rows), "fraud_rate": frauds / len(rows) if rows else 0.0}


def record_dataset_version(project: Path, stack: str, version: str) -> bool:
    """Set lineage.datasetVersion in the stack file; False when it already says so."""
    sf = stackfile.load(project, stack)
    if sf.spec.lineage.dataset_version == version:
        return False
    keys = ["config", ROOT, "lineage"]

    def splice(text: str, root: Any) -> str:
        return stackfile.set_scalar(
            text, root, keys, "datasetVersion", stackfile.scalar(version), after="gitSha"
        )

    def change(platform: dict[str, Any]) -> None:
        platform["lineage"]["datasetVersion"] = version

    stackfile.write_atomic(sf.path, stackfile.edit(sf, splice, change), expected=sf.raw)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--project", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--repo", default=".")
    parser.add_argument("--data", default="data/transactions.csv")
    args = parser.parse_args(argv)
    data = Path(args.repo) / args.data
    try:
        md5 = dataset_md5(data.with_name(data.name + ".dvc"))
        model = train(data, md5)
        changed = record_dataset_version(Path(args.project), args.stack, f"md5:{md5}")
    except OpsError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return exc.code
    print(f"trained on {model['rows']} rows (fraud rate {model['fraud_rate']:.2f}), data md5:{md5}")
    state = "recorded in" if changed else "already in"
    print(f"lineage.datasetVersion md5:{md5} {state} stacks/Pulumi.{args.stack}.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
