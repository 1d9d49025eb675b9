"""Prompt templates: loading, rendering, hashing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gspmc.describe.prompts import STEPS, default_template_dir, load_prompts
from gspmc.errors import ConfigError, DataError


def test_shipped_templates_render() -> None:
    prompts = load_prompts()
    assert set(prompts.templates) == set(STEPS) and len(prompts.hash) == 16
    msgs = prompts["p1_primary"].render(sign_language="ASL", gloss="coffee", hint="", context="[1] entry",
                                        dominant_side="right", other_side="left")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert 'Describe how the ASL sign "coffee" is made.' in msgs[1]["content"]
    assert "[1] entry" in msgs[1]["content"] and '{"description": "..."}' in msgs[1]["content"]
    assert "$" not in msgs[0]["content"] + msgs[1]["content"]


def test_missing_placeholder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"p1_primary.v1.md: placeholder \$\w+ has no value"):
        load_prompts()["p1_primary"].render(gloss="coffee")


def test_hash_changes_with_any_template(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    shutil.copytree(default_template_dir(), folder)
    assert load_prompts(folder).hash == load_prompts().hash
    path = folder / "p4_parts.v1.md"
    path.write_text(path.read_text() + "\nBe brief.\n")
    assert load_prompts(folder).hash != load_prompts().hash


def test_bad_template_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="p1_primary.v7.md: prompt template for step p1_primary not found"):
        load_prompts(default_template_dir(), version=7)
    folder = tmp_path / "prompts"
    shutil.copytree(default_template_dir(), folder)
    (folder / "p2_synonyms.v1.md").write_text("just text, no sections")
    with pytest.raises(DataError, match="needs a '# system' section"):
        load_prompts(folder)
