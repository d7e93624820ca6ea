"""The family registry: which organisations and repo names make a model first-party to a family,
with the family's vendor, country of origin and ticker.

The built-in registry is ``data/families.toml`` in this package; a user TOML of the same shape
extends it (new names) or overrides it (same name: the given keys replace the built-in ones).
Models that no family claims are shown as the family ``(unattributed)``. The registry is
configuration that every stage reads (the crawl's scopes, the synthetic Hub, attribution), so
it sits beside ``settings`` and imports nothing of the stages.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hubpulse.errors import RegistryError, UnknownFamilyError
from hubpulse.terms import MODES

__all__ = [
    "MODES",
    "UNATTRIBUTED",
    "ComparisonSet",
    "Family",
    "Registry",
    "load_comparison_sets",
    "load_registry",
]

UNATTRIBUTED = "(unattributed)"


class Family(BaseModel):
    """One registry entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    vendor: str = Field(min_length=1)
    country: str = Field(min_length=1)
    ticker: str | None = None
    tickers: list[str] = Field(default_factory=list)
    orgs: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    repos: list[str] = Field(default_factory=list)
    modelscope_orgs: list[str] = Field(default_factory=list)

    def rules(self, hub: str = "hf") -> list[tuple[str, str | None]]:
        """(organisation, name glob or None) pairs that make a repo first-party on ``hub``
        (``modelscope``: the family's ModelScope organisations where given, else its own)."""
        named: list[str | None] = [p.lower() for p in self.patterns] or [None]
        orgs = self.owners(hub)
        rules = [(org.lower(), glob) for org in orgs for glob in named]
        for repo in self.repos:
            org, _, name = repo.partition("/")
            rules.append((org.lower(), name.lower()))
        return rules

    def owners(self, hub: str = "hf") -> list[str]:
        """The organisations publishing the family's first-party repos on ``hub``."""
        return (self.modelscope_orgs or self.orgs) if hub == "modelscope" else self.orgs


@dataclass(frozen=True)
class Registry:
    """The families in registry order."""

    families: tuple[Family, ...]

    def get(self, name: str) -> Family:
        """The family called ``name`` (case-insensitive)."""
        for family in self.families:
            if family.name.lower() == name.lower():
                return family
        known = ", ".join(f.name for f in self.families)
        raise UnknownFamilyError(f"unknown family {name!r}; known families: {known}")

    def group(self, by: str, name: str) -> str:
        """The registry's spelling of vendor or country ``name`` (case-insensitive), or of the
        family ``name`` for ``by="family"``; a family named where a vendor or country is asked
        for stands for its own (``compare Qwen --by vendor`` compares Alibaba); a clear error
        for a name it does not know."""
        if by == "family":
            return self.get(name).name
        known = sorted({getattr(f, by) for f in self.families})
        for value in known:
            if value.lower() == name.lower():
                return str(value)
        family = next((f for f in self.families if f.name.lower() == name.lower()), None)
        if family is not None:
            return str(getattr(family, by))
        raise UnknownFamilyError(f"unknown {by} {name!r}; known: {', '.join(known)}")

    def digest(self) -> str:
        """A digest of the registry's content (what stored attributions depend on)."""
        text = json.dumps([f.model_dump() for f in self.families], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def table(self) -> ir.Table:
        """family, vendor, country, ticker, orgs (one row per family, plus unattributed)."""
        rows = [
            {
                "family": f.name,
                "vendor": f.vendor,
                "country": f.country,
                "ticker": f.ticker,
                "orgs": ", ".join(f.orgs + f.repos),
                "position": i,
            }
            for i, f in enumerate(self.families)
        ]
        rows.append(_unattributed_row(len(rows)))
        return ibis.memtable(pa.Table.from_pylist(rows))

    def rules(self, hub: str = "hf") -> ir.Table:
        """The first-party rules on ``hub`` (``Family.rules``): rule_org, rule_regex, rule_like (the
        same rule as a LIKE pattern, where the glob has no character LIKE reads as a wildcard or
        escape; matching it costs far less than a regular expression that differs by row), family,
        priority (0 = specific, 1 = bare org), position."""
        rows = [
            {
                "rule_org": org,
                "rule_regex": None if glob is None else _glob_regex(glob),
                "rule_like": None if glob is None else _like(glob),
                "rule_family": family.name,
                "priority": 1 if glob is None else 0,
                "position": position,
            }
            for position, family in enumerate(self.families)
            for org, glob in family.rules(hub)
        ]
        schema = pa.schema(
            [
                ("rule_org", pa.string()),
                ("rule_regex", pa.string()),
                ("rule_like", pa.string()),
                ("rule_family", pa.string()),
                ("priority", pa.int64()),
                ("position", pa.int64()),
            ]
        )
        return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


# A configuration file larger than this is not one (a registry of every family is ~20 KB).
MAX_CONFIG_BYTES = 1 << 20


def read_config(path: Path, what: str) -> str:
    """The text of configuration file ``path`` (UTF-8, a leading byte-order mark dropped).
    Only a regular file of at most ``MAX_CONFIG_BYTES`` is read: a FIFO with no writer would
    block forever, ``/dev/zero`` would read until memory runs out."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise RegistryError(f"{path}: the {what} must be a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise RegistryError(f"{path}: {what} is larger than {MAX_CONFIG_BYTES:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: {what} is not UTF-8 text ({exc.reason})") from None


def load_registry(extra: Path | str | None = None) -> Registry:
    """The built-in registry, extended or overridden by the TOML file ``extra``."""
    text = resources.files("hubpulse").joinpath("data", "families.toml").read_text(encoding="utf-8")
    families = _parse_registry(text, "families.toml (built-in)")
    if extra is not None:
        path = Path(extra)
        user_text = read_config(path, "family registry")
        families = _merge(families, _raw_entries(user_text, str(path)), str(path), user_text)
    return Registry(tuple(families))


def _like(glob: str) -> str | None:
    """The LIKE pattern of ``glob`` (* and ? as % and _), or None when the glob holds a
    character LIKE would read as a wildcard or an escape."""
    if any(ch in glob for ch in "%_\\"):
        return None
    return glob.replace("*", "%").replace("?", "_")


def _glob_regex(glob: str) -> str:
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob.lower())
    return "^" + "".join(parts) + "$"


def _unattributed_row(position: int) -> dict[str, Any]:
    return {
        "family": UNATTRIBUTED,
        "vendor": UNATTRIBUTED,
        "country": UNATTRIBUTED,
        "ticker": None,
        "orgs": "",
        "position": position,
    }


def _raw_entries(text: str, origin: str) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{origin}: invalid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"family"})
    if unknown:
        line = _line_of(text, rf"^\s*\[?\[?{re.escape(unknown[0])}\b")
        raise RegistryError(
            f"{origin}, line {line}: unknown top-level key {unknown[0]!r}; "
            "declare families as [[family]] tables"
        )
    entries = data.get("family", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        line = _line_of(text, r"^\s*family\s*=")
        where = f", line {line}" if line else ""
        raise RegistryError(f"{origin}{where}: 'family' must be an array of tables ([[family]])")
    return entries


def _parse_registry(text: str, origin: str) -> list[Family]:
    entries = _raw_entries(text, origin)
    families = [_validate(entry, i, origin, text) for i, entry in enumerate(entries)]
    _check_unique(families, origin, text)
    return families


def _merge(
    base: list[Family], entries: list[dict[str, Any]], origin: str, text: str
) -> list[Family]:
    merged = {f.name.lower(): f for f in base}
    given: set[str] = set()
    for index, entry in enumerate(entries):
        name = entry.get("name")
        if isinstance(name, str) and name.lower() in given:
            raise RegistryError(
                f"{origin}, line {_entry_line(text, index)}: duplicate family {name!r} "
                "(each name once: an entry overrides the built-in family of that name)"
            )
        given.add(str(name).lower())
        current = merged.get(name.lower()) if isinstance(name, str) else None
        fields = {**current.model_dump(), **entry} if current else entry
        merged[str(name).lower()] = _validate(fields, index, origin, text)
    return list(merged.values())


def _validate(entry: dict[str, Any], index: int, origin: str, text: str) -> Family:
    line = _entry_line(text, index)
    try:
        family = Family.model_validate(entry)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "entry"
        key_line = _line_of(text, rf"^\s*{re.escape(str(error['loc'][0]))}\s*=", after=line)
        where = key_line if error["loc"] and key_line else line
        raise RegistryError(
            f"{origin}, line {where}: family #{index + 1} field {field!r}: {error['msg']}"
        ) from exc
    if family.name.lower() == UNATTRIBUTED:
        raise RegistryError(
            f"{origin}, line {line}: {UNATTRIBUTED!r} is reserved for models no family claims; "
            "choose another name"
        )
    if not family.orgs and not family.repos:
        raise RegistryError(
            f"{origin}, line {line}: family {family.name!r} needs 'orgs' or 'repos'"
        )
    return family


def _check_unique(families: list[Family], origin: str, text: str) -> None:
    seen: set[str] = set()
    for index, family in enumerate(families):
        if family.name.lower() in seen:
            raise RegistryError(
                f"{origin}, line {_entry_line(text, index)}: duplicate family {family.name!r}"
            )
        seen.add(family.name.lower())


def _entry_line(text: str, index: int) -> int:
    headers = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "[[family]]"]
    return headers[index] if index < len(headers) else 1


def _line_of(text: str, pattern: str, after: int = 0) -> int:
    lines = text.splitlines()
    for number in range(after + 1, len(lines) + 1):
        if number > after + 1 and lines[number - 1].strip() == "[[family]]":
            break
        if re.search(pattern, lines[number - 1]):
            return number
    return 0


class ComparisonSet(BaseModel):
    """A named comparison: the groups a published claim compared its subject with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    by: str = Field(pattern="^(family|vendor)$")
    subject: str = Field(min_length=1)
    against: list[str] = Field(default_factory=list)
    next: int | None = Field(default=None, ge=1)
    month: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")
    source: str = Field(min_length=1)
    quote: str = Field(min_length=1)

    def checked(self, registry: Registry) -> ComparisonSet:
        """The set with the registry's spelling of every group (an error names any unknown)."""
        if bool(self.against) == (self.next is not None):
            raise RegistryError(f"comparison set {self.name!r}: give either 'against' or 'next'")
        return self.model_copy(
            update={
                "subject": registry.group(self.by, self.subject),
                "against": [registry.group(self.by, g) for g in self.against],
            }
        )


def load_comparison_sets(registry: Registry, extra: Path | None = None) -> dict[str, ComparisonSet]:
    """The named comparison sets (``data/comparisons.toml``, plus those of ``extra``) by
    lower-case name, their groups checked against ``registry``."""
    texts = [
        (
            "comparisons.toml (built-in)",
            resources.files("hubpulse").joinpath("data", "comparisons.toml").read_text("utf-8"),
        )
    ]
    if extra is not None:
        texts.append((str(extra), read_config(Path(extra), "comparison sets file")))
    sets: dict[str, ComparisonSet] = {}
    for origin, text in texts:
        try:
            entries = tomllib.loads(text).get("set", [])
        except tomllib.TOMLDecodeError as exc:
            raise RegistryError(f"{origin}: invalid TOML: {exc}") from exc
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise RegistryError(f"{origin}: 'set' must be [[set]] tables, one per named set")
        for index, entry in enumerate(entries):
            try:
                found = ComparisonSet.model_validate(entry)
            except ValidationError as exc:
                error = exc.errors()[0]
                field = ".".join(str(p) for p in error["loc"]) or "entry"
                raise RegistryError(
                    f"{origin}: set #{index + 1} field {field!r}: {error['msg']}"
                ) from None
            sets[found.name.lower()] = found.checked(registry)
    return sets
