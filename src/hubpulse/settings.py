"""Typed settings: CLI flag > ``HUBPULSE_*`` environment variable > default."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as UnparsedSetting

from hubpulse.errors import OptionError, first_line
from hubpulse.terms import Mode, OutputFormat

__all__ = ["Mode", "OutputFormat", "Settings", "load_settings"]


def _default_warehouse() -> Path:
    return Path.home() / ".local" / "share" / "hubpulse"


class Settings(BaseSettings):
    """Where data lives and how questions are answered by default."""

    model_config = SettingsConfigDict(env_prefix="HUBPULSE_", frozen=True, allow_inf_nan=False)

    warehouse: Path = Field(
        default_factory=_default_warehouse,
        description="Directory holding Parquet partitions and the DuckDB catalog.",
    )
    families_file: Path | None = Field(
        default=None,
        description="Extra TOML registry that extends or overrides the built-in families.",
    )
    comparisons_file: Path | None = Field(
        default=None,
        description="Extra TOML of named comparison sets ([[set]] tables, as the built-in "
        "comparisons.toml).",
    )
    mode: Mode = Field(default="lineage", description="Default attribution mode.")
    duckdb_memory_limit: str = Field(
        default="2GB",
        pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$",
        description="Memory DuckDB may hold (e.g. 2GB, 512MiB); beyond it, it spills to "
        "<warehouse>/.spill.",
    )
    duckdb_threads: int | None = Field(
        default=None,
        ge=1,
        description="Threads DuckDB may use (default: one per core).",
    )
    max_lineage_depth: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="Iteration cap for the lineage closure (longest chain).",
    )
    hub_retry_wait: float = Field(
        default=1.0, ge=0, description="First wait (s) before retrying a failed Hub request."
    )
    hub_timeout: float = Field(
        default=60.0, gt=0, description="Longest wait (s) to connect to the Hub or for a reply."
    )
    hub_max_rate_wait: float = Field(
        default=3600.0, ge=0, description="Longest total wait (s) a crawl spends on rate limits."
    )
    routes_file: Path | None = Field(
        default=None,
        description="TOML of routes from router model names to families (default: the "
        "bundled routes.toml).",
    )
    benchmark: str | None = Field(
        default=None,
        description="The benchmark ticker the report and dashboard read excess returns over "
        "(an index or ETF the warehouse holds prices of, e.g. SPY).",
    )
    modelscope_endpoint: str | None = Field(
        default=None,
        description="ModelScope's endpoint (default: the client's, MODELSCOPE_ENDPOINT).",
    )
    router_endpoint: str = Field(
        default="https://openrouter.ai",
        description="Base URL of OpenRouter's data API (rankings-daily).",
    )
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Engine for lineage, attribution and metrics: embedded DuckDB or Spark.",
    )
    spark_master: str = Field(
        default="local[*]", description="Spark master URL for --engine spark (local[*], spark://…)."
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark settings as JSON, e.g. {"spark.executor.memory": "8g"}.',
    )
    max_gap_days: int = Field(
        default=31,
        ge=0,
        description="Farthest an observation may lie from a month boundary to estimate it.",
    )
    deconvolve: bool = Field(
        default=True,
        description="Chain daily 30-day counts back to each day's downloads (the deconvolved "
        "method); false gives the bounds of the other methods alone, for comparison.",
    )
    min_coverage: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Coverage a group-month needs (the part of its newest 30-day downloads "
        "that was estimated) before shares, growth and concentration use it.",
    )
    driver_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Flag a group-month when one model makes more than this part of it.",
    )
    spike_factor: float = Field(
        default=10.0,
        gt=1,
        description="Flag a model-month that jumps above, or collapses below, both neighbouring "
        "months by more than this factor.",
    )

    @property
    def mode_given(self) -> bool:
        """Whether the mode was chosen (a CLI flag or ``HUBPULSE_MODE``), not defaulted:
        ``compare`` then answers under it alone instead of under both modes."""
        return "mode" in self.model_fields_set


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (CLI) values taking precedence."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise settings_error(exc, given) from None
    except UnparsedSetting as exc:  # a JSON setting that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"HUBPULSE_{field.group(1).upper()}" if field else "a HUBPULSE_* variable"
        example = '{"spark.executor.memory": "8g"}'
        raise OptionError(f"{name}: not valid JSON (give an object such as {example})") from None


def settings_error(exc: ValidationError, given: dict[str, object]) -> OptionError:
    """A refused setting in one line: the option or ``HUBPULSE_*`` variable, the value and why."""
    problem = exc.errors()[0]
    field = str(problem["loc"][0]) if problem["loc"] else "setting"
    where = f"--{field.replace('_', '-')}" if field in given else f"HUBPULSE_{field.upper()}"
    value = str(problem.get("input", ""))[:80]
    why = first_line(Exception(problem["msg"]))
    if problem["type"] == "string_pattern_mismatch":
        why = "give a size such as 2GB or 512MiB"
    return OptionError(f"{where}={value!r}: {why}")
