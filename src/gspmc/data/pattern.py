"""What the folders of a dataset mean: a path pattern such as ``{session}/{class}/{clip}``.

Your own recordings are usually sorted into folders: by class, and often by signer or recording
session above that. A pattern names each level below the dataset's root, one ``/``-separated part
per level, the last part being the clip (an MP_Data sequence folder, or a ``.pose`` / video file
without its extension)::

    {class}/{clip}                    MP_Data/<class>/<sequence>/<frame>.npy (the tutorial layout)
    {session}/{class}/{clip}          one MP_Data tree (or folder of videos) per recording session
    {signer}/{session}/{class}/{clip}
    {signer}/*/{class}/{clip}         ``*`` skips a level

``{class}`` gives the label, ``{signer}`` the clip's signer, any other name (``{session}``,
``{camera}``, ...) a per-clip ``ClipSet.meta`` column; each can be a protocol's group
(`gspmc.data.protocols`). Without a pattern, the readers use :func:`default_pattern` of the depth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike
from pathlib import PurePosixPath

from gspmc.errors import ConfigError, DataError

_FIELD = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
CLIP = "clip"
_ALIASES = {"sequence": CLIP, "label": "class"}  # {sequence} is MP_Data's word for a clip
Where = str | PathLike[str] | None  # the folder an error names
DEFAULTS = {1: f"{{{CLIP}}}", 2: f"{{class}}/{{{CLIP}}}", 3: f"{{session}}/{{class}}/{{{CLIP}}}"}


@dataclass(frozen=True)
class PathPattern:
    """A parsed pattern: one field name per folder level (None: skipped), the last one ``clip``."""

    text: str
    fields: tuple[str | None, ...]

    @classmethod
    def parse(cls, text: str) -> PathPattern:
        """Parse ``{a}/{b}/.../{clip}``; a bad pattern is a ConfigError saying what is wrong."""
        parts = str(text).strip().strip("/").split("/")
        if not parts or parts == [""]:
            raise ConfigError(f"path pattern {text!r} is empty; e.g. '{{session}}/{{class}}/{{clip}}'")
        fields: list[str | None] = []
        for part in parts:
            if part == "*":
                fields.append(None)
                continue
            m = _FIELD.match(part)
            if m is None:
                raise ConfigError(f"path pattern {text!r}: {part!r} is neither '{{name}}' nor '*'")
            fields.append(_ALIASES.get(m.group(1), m.group(1)))
        if fields[-1] != CLIP:
            raise ConfigError(f"path pattern {text!r}: the last part must be {{clip}} (or {{sequence}})")
        named = [f for f in fields if f is not None]
        if len(set(named)) != len(named):
            raise ConfigError(f"path pattern {text!r} names a field twice")
        return cls(str(text), tuple(fields))

    @property
    def depth(self) -> int:
        return len(self.fields)

    def match(self, rel: PurePosixPath | str, root: Where) -> dict[str, str]:
        """Field values of a clip's path relative to the root (the clip's own name under ``clip``)."""
        parts = PurePosixPath(rel).parts
        if len(parts) != self.depth:
            raise DataError(root, f"{'/'.join(parts)!r} is {len(parts)} level(s) below the root, but the path "
                                  f"pattern {self.text!r} has {self.depth}; pass data.options.pattern")
        return {f: v for f, v in zip(self.fields, parts, strict=True) if f is not None}

    def columns(self) -> list[str]:
        """Fields that become ClipSet.meta columns (all but class, signer and clip)."""
        return [f for f in self.fields if f not in (None, CLIP, "class", "signer")]


def default_pattern(depth: int, root: Where) -> PathPattern:
    """The pattern used when none is given, by how many levels lie between the root and the clips."""
    if depth not in DEFAULTS:
        raise DataError(root, f"clips lie {depth} levels below the root; say what the levels mean with a path "
                              "pattern, e.g. data.options.pattern='{signer}/{session}/{class}/{clip}'")
    return PathPattern.parse(DEFAULTS[depth])


def resolve_pattern(pattern: str | PathPattern | None, depth: int, root: Where) -> PathPattern:
    """``pattern`` parsed, or the default for ``depth``; a given pattern must match the depth."""
    if pattern is None:
        return default_pattern(depth, root)
    pat = pattern if isinstance(pattern, PathPattern) else PathPattern.parse(pattern)
    if pat.depth != depth:
        raise DataError(root, f"clips lie {depth} level(s) below the root, but the path pattern {pat.text!r} "
                              f"has {pat.depth}")
    return pat
