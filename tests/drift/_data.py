"""Deterministic data for the drift tests: a mixed table and SageMaker capture lines."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

FEATURES = ["age", "amount", "score", "channel", "country"]
CHANNELS = ["web", "app", "store"]
COUNTRIES = ["de", "fr", "us", "uk"]


def rows(n: int, seed: int, shift: str | None = None) -> list[list[object]]:
    """``n`` rows; ``shift`` moves one feature (numeric by 1 sd, categorical to a new mix)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        age = rng.gauss(40, 10)
        amount = rng.lognormvariate(3, 0.5)
        score = rng.random()
        channel = rng.choices(CHANNELS, weights=[5, 3, 2])[0]
        country = rng.choice(COUNTRIES)
        if shift == "amount":
            amount *= 1.8
        if shift == "channel":
            channel = rng.choices(CHANNELS, weights=[1, 2, 7])[0]
        out.append([round(age, 2), round(amount, 2), round(score, 4), channel, country])
    return out


def write_csv(path: Path, data: list[list[object]], label: bool = False) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FEATURES + (["label"] if label else []))
        for row in data:
            writer.writerow(row + ([int(row[2] > 0.5)] if label else []))
    return path


def capture_lines(data: list[list[object]], per_request: int = 1) -> str:
    """SageMaker data-capture JSON Lines: CSV payloads without a header, as the endpoint gets."""
    lines = []
    for start in range(0, len(data), per_request):
        batch = data[start : start + per_request]
        payload = "\n".join(",".join(str(v) for v in row) for row in batch)
        lines.append(
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": payload,
                            "encoding": "CSV",
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv; charset=utf-8",
                            "mode": "OUTPUT",
                            "data": "0.1",
                            "encoding": "CSV",
                        },
                    },
                    "eventMetadata": {
                        "eventId": f"e-{start}",
                        "inferenceTime": "2026-11-28T05:00:00Z",
                    },
                    "eventVersion": "0",
                }
            )
        )
    return "\n".join(lines) + "\n"
