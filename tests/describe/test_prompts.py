"""Prompt templates: loading, rendering, hashing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gspmc.describe.prompts import STEPS, default_template_dir, load_prompts
from gspmc.errors import ConfigError, DataError


@pytest.mark.parametrize("version", [1, 2])
def test_shipped_templates_render(version: int) -> None:
    prompts = load_prompts(version=version)
    assert set(prompts.templates) == set(STEPS) and len(prompts.hash) == 16
    values = dict(sign_language="ASL", gloss="coffee", hint="", context="[1] entry", dominant_side="right",
                  other_side="left", neighbours='[N1] "tea": the right F hand circles')
    for step in ("p1_primary", "p3_refine"):
        msgs = prompts[step].render(**values, primary="A fist circles.")
        assert [m["role"] for m in msgs] == ["system", "user"]
        assert "[1] entry" in msgs[1]["content"] and '{"description": "..."}' in msgs[1]["content"]
        assert "$" not in msgs[0]["content"] + msgs[1]["content"]
        # v2 shows the vocabulary neighbours and asks what tells the sign apart; v1 does not
        assert ('[N1] "tea"' in msgs[1]["content"]) == (version == 2)
    msgs = prompts["p1_primary"].render(**values)
    assert 'Describe how the ASL sign "coffee" is made.' in msgs[1]["content"]
    assert ("neighbours" in prompts.placeholders) == (version == 2)


def test_default_templates_are_v2() -> None:
    assert load_prompts().hash == load_prompts(version=2).hash != load_prompts(version=1).hash


def test_missing_placeholder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"p1_primary.v2.md: placeholder \$\w+ has no value"):
        load_prompts()["p1_primary"].render(gloss="coffee")


def test_hash_changes_with_any_template(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    shutil.copytree(default_template_dir(), folder)
    assert load_prompts(folder).hash == load_prompts().hash
    path = folder / "p4_parts.v2.md"
    path.write_text(path.read_text() + "\nBe brief.\n")
    assert load_prompts(folder).hash != load_prompts().hash


def test_bad_template_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="p1_primary.v7.md: prompt template for step p1_primary not found"):
        load_prompts(default_template_dir(), version=7)
    folder = tmp_path / "prompts"
    shutil.copytree(default_template_dir(), folder)
    (folder / "p2_synonyms.v2.md").write_text("just text, no sections")
    with pytest.raises(DataError, match="needs a '# system' section"):
        load_prompts(folder)
