"""The vocabulary every stage shares: the choices of the options (attribution modes, output
formats, engines, groupings, metrics). Plain ``Literal`` types, so the CLI can declare its
options without importing any engine or library."""

from __future__ import annotations

from typing import Literal

Mode = Literal["publisher", "lineage"]
MODES: tuple[Mode, ...] = ("publisher", "lineage")

OutputFormat = Literal["table", "json", "csv"]

Engine = Literal["duckdb", "spark"]

GroupBy = Literal["family", "model", "vendor", "country", "author", "size"]
GROUPS: tuple[GroupBy, ...] = ("family", "model", "vendor", "country", "author", "size")

Metric = Literal["downloads_30d", "downloads_all_time"]

TrendBy = Literal["family", "vendor", "country", "model", "author"]
TREND_GROUPS: tuple[TrendBy, ...] = ("family", "vendor", "country", "model", "author")

LLM_TASKS = (
    "text-generation",
    "text2text-generation",
    "image-text-to-text",
    "video-text-to-text",
    "audio-text-to-text",
    "any-to-any",
    "conversational",
)
"""The pipeline tags ``--llm`` keeps: models that generate text from text, images, video, audio
or any mix (chat and instruction models, vision-language models, omni models)."""
