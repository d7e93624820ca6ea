"""The one error hierarchy of hubpulse.

Every message names the object at fault and the next step. The CLI turns these into
messages and a non-zero exit status in one place (``cli.main``).
"""

from __future__ import annotations

import re

# Hugging Face tokens (hf_…), OpenRouter keys (sk-or-…) and whatever follows "Bearer" or
# "token": never printed, even when a server echoes the request's headers back in an error body.
_SECRET = re.compile(
    r"\bhf_[A-Za-z0-9]{6,}|\b((?:Bearer|token)[\s=:\"']+)[A-Za-z0-9_.\-]{8,}"
    r"|\b(sk-or-)[A-Za-z0-9_\-]{8,}",
    re.I,
)


def redact(text: str) -> str:
    """``text`` with anything token-shaped replaced by ``***``."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or "hf_") + "***", text)


# ANSI escape sequences and other control characters a server's error body may carry.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def one_line(text: str, limit: int = 600) -> str:
    """``text`` as one line for a terminal: escape sequences and control characters dropped,
    line breaks and runs of spaces made one space, at most ``limit`` characters."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none), for one-line
    errors that quote a library's reason."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class HubpulseError(Exception):
    """Base class of every error hubpulse raises on purpose; its message is redacted."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class SnapshotFormatError(ValueError, HubpulseError):
    """An input file cannot be read as a snapshot at all (unknown layout, unreadable file)."""


class SnapshotNotFoundError(LookupError, HubpulseError):
    """The warehouse holds no snapshot for the requested date."""


class SnapshotConflictError(HubpulseError):
    """A different file was already ingested for the same snapshot date."""


class RegistryError(ValueError, HubpulseError):
    """A family registry (TOML) is malformed; the message names the file and line."""


class UnknownFamilyError(LookupError, HubpulseError):
    """A family name is not in the registry."""


class NoEvidenceError(LookupError, HubpulseError):
    """A group or month with no evidence (no data, not zero); the message says which months
    hold some and which command would fetch more."""


class NotComparableError(HubpulseError):
    """A comparison with nothing to compare against (no group ranked below the subject, no group
    of a named set with models): not a verdict, so an error (a non-zero exit, a 422)."""


class ModelNotFoundError(LookupError, HubpulseError):
    """A model id is not in the snapshot."""


class LineageError(HubpulseError):
    """The lineage graph could not be resolved (e.g. it did not converge)."""


class SeriesFormatError(ValueError, HubpulseError):
    """A download series file cannot be read as the layout it was given as."""


class SeriesNotFoundError(LookupError, HubpulseError):
    """The warehouse holds no series load of the given id."""


class OptionError(ValueError, HubpulseError):
    """An option's value is not what it must be (an amount such as 700M, a month)."""


class EngineError(HubpulseError):
    """An engine cannot be started, or cannot run what was asked of it."""


class DerivedDamagedError(HubpulseError):
    """A stored analysis table that cannot be read (it is then built again)."""
