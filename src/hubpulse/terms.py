"""The vocabulary every stage shares: the choices of the options (attribution modes, output
formats, engines, groupings, metrics). Plain ``Literal`` types, so the CLI can declare its
options without importing any engine or library."""

from __future__ import annotations

import re
from typing import Literal

from hubpulse.errors import OptionError

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


_SCALE = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_AMOUNT = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*[KMB]?"
"""An amount: digits (thousands grouped by commas, or not), a fraction, a K/M/B scale."""


def parse_amount(text: str, option: str = "amount") -> int:
    """``700M``, ``1.5B``, ``20k``, ``100,000``, ``100_000`` or ``700000`` → an integer; anything
    else is an ``OptionError`` naming ``option``."""
    try:
        found = parse_amounts(text, option)
    except OptionError:
        found = []
    if len(found) != 1:
        raise OptionError(f"{option} {text!r}: give one amount such as 700M, 1.5B or 100,000")
    return found[0]


def parse_amounts(text: str, option: str = "amounts") -> list[int]:
    """Amounts separated by commas (``100M,500M,700M``) → integers. A comma followed by three
    digits groups thousands (``100,000`` is one amount), so small thresholds are written
    ``100K,500K``; anything else is an ``OptionError`` naming ``option``."""
    cleaned = text.replace("_", "").upper()
    if not re.fullmatch(rf"\s*{_AMOUNT}\s*(?:,\s*{_AMOUNT}\s*)*", cleaned):
        raise OptionError(
            f"{option} {text!r}: give amounts such as 700M, 1.5B, 20K or 100,000 "
            "(commas between amounts)"
        )
    values = []
    for match in re.finditer(_AMOUNT, cleaned):
        if re.fullmatch(r"0\d*", match.group()):  # "1,00": a broken thousands group, or 0
            raise OptionError(
                f"{option} {text!r}: {match.group()!r} is no amount; write 100,000 or 100K"
            )
        number = match.group().replace(",", "").replace(" ", "")
        scale = number[-1] if number[-1] in "KMB" else ""
        values.append(round(float(number.rstrip("KMB")) * _SCALE[scale]))
    return values
