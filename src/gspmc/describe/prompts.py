"""Prompt templates (P1-P4) and the JSON schemas their replies must follow.

Templates are Markdown files in ``prompts/`` named ``<step>.v<N>.md``: an optional leading
``<!-- comment -->``, then a ``# system`` and a ``# user`` section. Placeholders use
``string.Template`` syntax (``$gloss``), so JSON examples with braces need no escaping. The
*template hash* (sha256 over the four files, the schemas and :data:`PIPELINE_VERSION`) is
recorded with every description and keys the resume cache: editing a template redoes the work.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gspmc.describe.entry import PARTS
from gspmc.errors import ConfigError, DataError

PIPELINE_VERSION = "gsp-5"  # bump when the step logic or validation rules change (gsp-5: neighbours, content retries)
STEPS = ("p1_primary", "p2_synonyms", "p3_refine", "p4_parts")
DEFAULT_VERSION = 2  # v2: v1 plus the vocabulary neighbours in P1/P3 ($neighbours); v1: the paper's steps

# maxLength keeps grammar-constrained replies short enough to close within --max-tokens
_DESC = {"type": "string", "minLength": 1, "maxLength": 500}
_PARA = {"type": "string", "minLength": 1, "maxLength": 250}
_PART = {"type": "string", "minLength": 1, "maxLength": 160}
SCHEMAS: dict[str, dict[str, Any]] = {
    "p1_primary": {"type": "object", "properties": {"description": _DESC}, "required": ["description"],
                   "additionalProperties": False},
    "p2_synonyms": {"type": "object",
                    "properties": {"paraphrases": {"type": "array", "items": _PARA, "minItems": 1, "maxItems": 3}},
                    "required": ["paraphrases"], "additionalProperties": False},
    "p3_refine": {"type": "object", "properties": {"description": _DESC}, "required": ["description"],
                  "additionalProperties": False},
    "p4_parts": {"type": "object",
                 "properties": {p: {"type": "array", "items": _PART, "maxItems": 2} for p in PARTS},
                 "required": list(PARTS), "additionalProperties": False},
}


def default_template_dir() -> Path:
    return Path(__file__).with_name("prompts")


@dataclass(frozen=True)
class Template:
    step: str
    path: Path
    system: string.Template
    user: string.Template

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages with placeholders filled (a missing value is a :class:`ConfigError`)."""
        try:
            return [{"role": "system", "content": self.system.substitute(values).strip()},
                    {"role": "user", "content": self.user.substitute(values).strip()}]
        except KeyError as err:
            raise ConfigError(f"{self.path}: placeholder ${err.args[0]} has no value") from err


def parse_template(path: Path, step: str) -> Template:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^\s*<!--.*?-->", "", text, count=1, flags=re.S)
    m = re.match(r"\s*#\s*system\s*\n(.*?)\n#\s*user\s*\n(.*)\Z", text, flags=re.S)
    if not m:
        raise DataError(path, "a prompt template needs a '# system' section followed by a '# user' section")
    return Template(step, path, string.Template(m.group(1)), string.Template(m.group(2)))


@dataclass(frozen=True)
class PromptSet:
    templates: dict[str, Template]
    hash: str

    def __getitem__(self, step: str) -> Template:
        return self.templates[step]

    @property
    def placeholders(self) -> set[str]:
        """The ``$names`` used by any of the templates."""
        return {name for t in self.templates.values() for part in (t.system, t.user) for name in part.get_identifiers()}


def load_prompts(folder: Path | None = None, version: int = DEFAULT_VERSION) -> PromptSet:
    """Load ``<step>.v<version>.md`` for the four steps from ``folder`` (default: the shipped ones)."""
    folder = Path(folder) if folder else default_template_dir()
    h = hashlib.sha256(PIPELINE_VERSION.encode())
    templates = {}
    for step in STEPS:
        path = folder / f"{step}.v{version}.md"
        if not path.is_file():
            raise DataError(path, f"prompt template for step {step} not found")
        templates[step] = parse_template(path, step)
        h.update(path.read_bytes())
        h.update(json.dumps(SCHEMAS[step], sort_keys=True).encode())
    return PromptSet(templates, h.hexdigest()[:16])
