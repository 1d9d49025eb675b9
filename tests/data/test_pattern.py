"""Path patterns: what each folder level of a dataset means."""

from __future__ import annotations

import pytest

from gspmc.data.pattern import PathPattern, default_pattern, resolve_pattern
from gspmc.errors import ConfigError, DataError


def test_parse_and_match() -> None:
    pat = PathPattern.parse("{signer}/*/{class}/{sequence}")
    assert pat.fields == ("signer", None, "class", "clip") and pat.depth == 4
    assert pat.match("ann/day1/coffee/7", "root") == {"signer": "ann", "class": "coffee", "clip": "7"}
    assert PathPattern.parse("{session}/{camera}/{class}/{clip}").columns() == ["session", "camera"]
    assert default_pattern(3, "r").fields == ("session", "class", "clip")
    with pytest.raises(DataError, match="r: 'a/b' is 2 level"):
        pat.match("a/b", "r")


@pytest.mark.parametrize(("text", "problem"), [
    ("", "is empty"),
    ("{class}/x", "'x' is neither '{name}' nor '\\*'"),
    ("{class}/*", "the last part must be {clip}"),
    ("{class}/{class}/{clip}", "names a field twice"),
])
def test_bad_patterns(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        PathPattern.parse(text)


def test_depth_without_a_default_asks_for_a_pattern() -> None:
    with pytest.raises(DataError, match="clips lie 5 levels below the root; say what the levels mean"):
        resolve_pattern(None, 5, "root")
    with pytest.raises(DataError, match="the path pattern '{class}/{clip}' has 2"):
        resolve_pattern("{class}/{clip}", 3, "root")
