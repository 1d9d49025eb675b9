"""Where gspmc finds data and writes caches. No hard-coded absolute paths anywhere else.

- ``GSPMC_DATA``: the read-only data folder (default: ``../shared/data`` next to the checkout,
  then ``../shared/data`` relative to the working directory).
- ``GSPMC_CACHE``: where caches go (default ``~/.cache/gspmc``). Never inside the data folder.
- package data (:func:`package_path`): the shipped configs (``gspmc/configs``), description stores
  (``gspmc/descriptions``), prompts and knowledge files, found with ``importlib.resources``, so a wheel
  install works from any folder.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def package_path(*parts: str) -> Path:
    """A file or folder shipped inside the gspmc package (``package_path("configs", "demo.yaml")``)."""
    return Path(str(files("gspmc").joinpath(*parts)))


def is_installed_package_file(path: str | os.PathLike[str]) -> bool:
    """True for a file inside an installed (site-packages) copy of gspmc, where nothing should be written."""
    p = Path(path).resolve()
    root = package_path().resolve()
    return p.is_relative_to(root) and any(part in ("site-packages", "dist-packages") for part in root.parts)


def data_dir() -> Path:
    """The shared data folder (may not exist: callers check and explain)."""
    env = os.environ.get("GSPMC_DATA")
    if env:
        return Path(env).expanduser()
    for candidate in (_REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return _REPO_ROOT.parent / "shared" / "data"


def cache_dir() -> Path:
    """A writable cache folder, created on first use."""
    path = Path(os.environ.get("GSPMC_CACHE", Path.home() / ".cache" / "gspmc")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
