"""Synthetic Spaces over a synthetic Hub, for benchmarks and scale tests.

``synthesize_spaces(models_path, spaces=N, out=DIR)`` writes ``DIR/spaces.parquet`` with the Hub
API's column names (``id``, ``author``, ``createdAt``, ``lastModified``, ``likes``,
``trendingScore``, ``sdk``, ``models``), importable with ``hubpulse spaces import --complete``.
Each Space declares 0 to 4 models (a quarter declare none, as many real Spaces do), drawn with
probability proportional to the models' 30-day downloads plus one, so popular models carry most
applications; likes follow a power law. The same arguments give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse.ingest.synth import SNAPSHOT

USES = np.array([0, 1, 2, 3, 4])
USES_P = [0.25, 0.45, 0.18, 0.08, 0.04]
SDKS = np.array(["gradio", "streamlit", "docker", "static"])
SDK_P = [0.62, 0.16, 0.17, 0.05]


def synthesize_spaces(
    models_path: Path | str, spaces: int, out: Path | str, *, seed: int = 0
) -> Path:
    """Write ``spaces`` synthetic Spaces using the models of ``models_path`` to
    ``out/spaces.parquet``; its path."""
    rng = np.random.default_rng(seed + 7919)
    models = pq.read_table(models_path, columns=["id", "downloads"])
    ids = models["id"].to_numpy(zero_copy_only=False)
    weight = np.nan_to_num(models["downloads"].to_numpy(zero_copy_only=False).astype(float)) + 1.0
    uses = rng.choice(USES, size=spaces, p=USES_P)
    picked = rng.choice(len(ids), size=int(uses.sum()), p=weight / weight.sum())
    offsets = np.concatenate([[0], np.cumsum(uses)]).astype(np.int32)
    owners = rng.integers(0, max(spaces // 8, 1), size=spaces)
    day = np.datetime64(SNAPSHOT.isoformat())
    created = day - rng.integers(1, 1500, size=spaces).astype("timedelta64[D]")
    modified = day - rng.integers(0, 60, size=spaces).astype("timedelta64[D]")
    table = pa.table(
        {
            "id": pa.array([f"space-owner{o}/app-{n}" for n, o in enumerate(owners)]),
            "author": pa.array([f"space-owner{o}" for o in owners]),
            "createdAt": pa.array(created.astype("datetime64[us]")),
            "lastModified": pa.array(modified.astype("datetime64[us]")),
            "likes": pa.array(np.floor(rng.pareto(1.3, size=spaces) * 3).astype(np.int64)),
            "trendingScore": pa.array(np.floor(rng.pareto(1.6, size=spaces)).astype(float)),
            "sdk": pa.array(rng.choice(SDKS, size=spaces, p=SDK_P)),
            "models": pa.ListArray.from_arrays(offsets, pa.array(ids[picked], pa.string())),
        }
    )
    path = Path(out) / "spaces.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path
