"""Shared fixtures. Tests needing ../shared/data skip with a reason when it is absent, except in CI
(GSPMC_REQUIRE_DATA=1), where a missing data folder is a failure so CI shows those tests ran; the same
holds for optional dependencies (GSPMC_REQUIRE_EXTRAS=1)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from gspmc.paths import data_dir

# In CI (GSPMC_REQUIRE_EXTRAS=1, set by .ci/run) an optional dependency that a test needs must be installed:
# pytest.importorskip becomes a plain import, so a missing extra fails the run instead of skipping quietly.
if os.environ.get("GSPMC_REQUIRE_EXTRAS") == "1":
    def _require(modname: str, minversion: str | None = None, reason: str | None = None, **_: object) -> object:
        return importlib.import_module(modname)

    pytest.importorskip = _require  # type: ignore[assignment]

# Offline before any fixture (module- or session-scoped ones run before autouse ones) imports the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = data_dir()
    if not (path / "traduttore_asl33.npz").is_file():
        msg = f"shared data not found at {path} (set GSPMC_DATA to the folder holding traduttore_asl33.npz)"
        if os.environ.get("GSPMC_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caches go to a per-session temp folder, never to the user's home or the data folder."""
    monkeypatch.setenv("GSPMC_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
