"""`hubpulse synth`: a deterministic synthetic Hub for benchmarks and scale tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from hubpulse.cli.options import app, console


@app.command()
def synth(
    models: Annotated[int, typer.Option(min=100, help="How many model repos.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write.")],
    days: Annotated[
        int, typer.Option(min=0, max=3660, help="Days of daily downloads (0: none).")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Random seed: same arguments, same files.")] = 0,
    activity: Annotated[
        float,
        typer.Option(min=0.001, max=1.0, help="Mean share of days a model has downloads."),
    ] = 0.137,
    spaces: Annotated[
        int, typer.Option(min=0, help="Spaces using the models (spaces.parquet; 0: none).")
    ] = 0,
) -> None:
    """Write a synthetic Hub in the hub-stats layout (models.parquet) and, with --days, a
    daily-downloads table (daily.parquet + daily_models.parquet) for the daily import layout;
    with --spaces, Spaces using its models (spaces.parquet, for `hubpulse spaces import`)."""
    from hubpulse.ingest.synth import synthesize
    from hubpulse.ingest.synth_spaces import synthesize_spaces

    started = time.perf_counter()
    with console.status(f"Synthesising {models:,} models…"):
        result = synthesize(models, out, days=days, seed=seed, activity=activity)
    console.print(
        f"{result.models:,} models ({result.with_lineage:,} with lineage, {result.edges:,} "
        f"parent links, deepest chain {result.max_depth}) → {result.models_path}",
        highlight=False,
    )
    if result.daily_path is not None:
        console.print(
            f"{result.daily_rows:,} daily rows over {days} days → {result.daily_path} "
            f"(+ {result.daily_models_path.name if result.daily_models_path else ''})",
            highlight=False,
        )
    if spaces:
        path = synthesize_spaces(result.models_path, spaces, out, seed=seed)
        console.print(f"{spaces:,} Spaces using its models → {path}", highlight=False)
    console.print(f"[dim]{time.perf_counter() - started:.1f} s, seed {seed}[/]")
