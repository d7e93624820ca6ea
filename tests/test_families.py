"""The family registry: built-in coverage, user overrides and errors that name the line."""

from __future__ import annotations

import fnmatch
import json
import tempfile
from pathlib import Path

import pytest
from graphs import model, records, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubpulse.analysis.snapshot.families import match_publishers
from hubpulse.errors import RegistryError, UnknownFamilyError
from hubpulse.registry import load_registry

REQUIRED = [
    "Qwen",
    "Llama",
    "DeepSeek",
    "Gemma",
    "Mistral",
    "Phi",
    "gpt-oss",
    "GLM",
    "Kimi",
    "MiniMax",
    "Nemotron",
    "Granite",
    "OLMo",
    "SmolLM",
    "Falcon",
    "Yi",
    "InternLM",
    "ERNIE",
    "Hunyuan",
    "Command",
    "Jamba",
    "Baichuan",
    "FLUX",
    "Stable Diffusion",
    "Whisper",
    "BERT",
]


def test_builtin_registry_covers_the_major_families():
    registry = load_registry()
    names = [f.name for f in registry.families]
    assert len(names) >= 25 and set(REQUIRED) <= set(names)
    for family in registry.families:
        assert family.vendor and family.country and (family.orgs or family.repos)
    assert registry.get("qwen").ticker == "BABA"
    with pytest.raises(UnknownFamilyError, match="unknown family 'Qwne'"):
        registry.get("Qwne")


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen"),
        ("google/gemma-3-27b-it", "Gemma"),
        ("google/bert_uncased_L-2_H-128_A-2", "BERT"),
        ("google/t5-small", None),
        ("openai/whisper-large-v3", "Whisper"),
        ("openai/gpt-oss-20b", "gpt-oss"),
        ("openai/clip-vit-large-patch14", "CLIP"),
        ("nvidia/Llama-3.1-Nemotron-70B-Instruct-HF", "Nemotron"),
        ("nvidia/some-other-model", None),
        ("microsoft/Phi-4", "Phi"),
        ("meta-llama/Llama-3.1-8B", "Llama"),
        ("stabilityai/stable-diffusion-xl-base-1.0", "Stable Diffusion"),
        ("someone/Qwen2.5-7B-finetune", None),
    ],
)
def test_publisher_rules(model_id, family):
    ids = snapshot([model(model_id)]).select("model_id")
    found = records(match_publishers(ids, load_registry()))
    assert [r["family"] for r in found] == ([family] if family else [])


def test_user_file_extends_and_overrides(tmp_path):
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[[family]]\nname = "qwen"\nvendor = "Alibaba Cloud"\n\n'
        '[[family]]\nname = "Acme"\nvendor = "Acme"\ncountry = "Chile"\norgs = ["acme"]\n'
    )
    registry = load_registry(extra)
    assert registry.get("Qwen").vendor == "Alibaba Cloud"
    assert registry.get("Qwen").orgs == ["Qwen", "Alibaba-NLP"]  # untouched keys kept
    assert registry.get("Acme").country == "Chile"
    assert len(registry.families) == len(load_registry().families) + 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[family]]\nname = "A"\nvendor = "B"\ncountry = \n', r"mine.toml: invalid TOML.*line 4"),
        (
            '[[family]]\nname = "A"\nvendor = "B"\ncountry = "C"\norgs = ["a"]\n\n'
            '[[family]]\nname = "D"\nvendor = "E"\ncountry = "F"\norgz = ["d"]\n',
            r"mine.toml, line 11: family #2 field 'orgz'",
        ),
        (
            '[[family]]\nname = "A"\nvendor = "B"\ncountry = "C"\n',
            r"mine.toml, line 1: family 'A' needs 'orgs' or 'repos'",
        ),
        (
            '[[family]]\nname = "A"\nvendor = "B"\ncountry = "C"\norgs = "a"\n',
            r"mine.toml, line 5: family #1 field 'orgs'",
        ),
        ('title = "x"\n', r"mine.toml, line 1: unknown top-level key 'title'"),
        (
            '[[family]]\nname = "(Unattributed)"\nvendor = "B"\ncountry = "C"\norgs = ["a"]\n',
            r"mine.toml, line 1: '\(unattributed\)' is reserved",
        ),
        (
            '[[family]]\nname = "Acme"\nvendor = "B"\ncountry = "C"\norgs = ["a"]\n\n'
            '[[family]]\nname = "acme"\nvendor = "E"\ncountry = "F"\norgs = ["d"]\n',
            r"mine.toml, line 7: duplicate family 'acme'",
        ),
        (
            '[[family]]\nname = "Qwen"\nvendor = "B"\n\n[[family]]\nname = "Qwen"\ncountry = "F"\n',
            r"mine.toml, line 5: duplicate family 'Qwen'",
        ),
    ],
)
def test_bad_registry_names_file_and_line(tmp_path, text, message):
    extra = tmp_path / "mine.toml"
    extra.write_text(text)
    with pytest.raises(RegistryError, match=message):
        load_registry(extra)


def test_missing_registry_file_is_a_clear_error(tmp_path):
    with pytest.raises(RegistryError, match="cannot read family registry"):
        load_registry(tmp_path / "absent.toml")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    globs=st.lists(st.text("ab_-.%*?", min_size=1, max_size=5), min_size=1, max_size=3),
    names=st.lists(st.text("abAB_-.%", max_size=6), min_size=1, max_size=8),
)
def test_a_pattern_matches_the_names_fnmatch_does(globs: list[str], names: list[str]) -> None:
    # whether a rule is matched as LIKE or as a regular expression, the glob means what
    # fnmatch says it means (case-insensitive), wildcard-like characters in it included
    with tempfile.TemporaryDirectory() as folder:
        extra = Path(folder) / "families.toml"
        quoted = ", ".join(json.dumps(g) for g in globs)
        extra.write_text(
            f'[[family]]\nname = "Zed"\nvendor = "Zed"\ncountry = "Chile"\n'
            f'orgs = ["zed-org"]\npatterns = [{quoted}]\n'
        )
        registry = load_registry(extra)
    ids = snapshot([model(f"zed-org/{name}") for name in dict.fromkeys(names)])
    found = {r["model_id"] for r in records(match_publishers(ids, registry))}
    matches = [n for n in names if any(fnmatch.fnmatchcase(n.lower(), g.lower()) for g in globs)]
    expected = {f"zed-org/{n}" for n in matches}
    assert found == expected
