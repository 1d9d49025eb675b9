"""``gspmc data``: fetch the public traduttore recordings and pack them into ``traduttore_asl33.npz``.

The recordings are MP_Data trees (``MP_Data/<class>/<sequence>/<frame>.npy``) in
github.com/traduttore/traduttore-model (MIT). The output is the packed format of
`gspmc.data.readers.npz` (the same file as ../shared/data/traduttore_asl33.npz), written atomically
to ``data_dir()/traduttore_asl33.npz`` unless ``--out`` says otherwise.

Sources (``--source``):

- a git URL (default: the traduttore repository): cloned into ``cache_dir()/fetch/`` (a finished
  clone is reused, so an interrupted run resumes there);
- a local git repository;
- a local ``.zip`` / ``.tar.gz`` / ``.tgz`` / ``.tar`` archive (e.g. GitHub's "Download ZIP"),
  extracted safely into the cache (reused when already extracted), or a plain local folder.

Signers: the recordings carry no signer field. A clip's signer is taken as the git author of the
last commit that touched any of its frame files (``git log``), i.e. who recorded and committed it:
a proxy, documented in ../shared/docs/skeleton-data.md. An archive or plain folder has no history,
so its signers are unknown ("" in the file) unless ``--signer-map`` gives them (CSV ``id,signer``
or JSON ``{id: signer}``, ids like ``MP_Data/coffee/12``); a map also overrides git authors.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from gspmc.data.readers._common import read_label_table
from gspmc.data.readers.mp_data import read_mp_data_arrays
from gspmc.data.readers.npz import read_mp_npz
from gspmc.data.registry import traduttore_path
from gspmc.errors import DataError, GspmcError
from gspmc.io import remove_stale_temps, replace_dir, temp_dir, write_npz
from gspmc.paths import cache_dir

DEFAULT_SOURCE = "https://github.com/traduttore/traduttore-model"
DATA_FOLDER = "MP_Data"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
DONE_MARKER = ".gspmc-complete"


# ------------------------------------------------------------------------------------------------
# Getting a local tree
# ------------------------------------------------------------------------------------------------
def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://", "git@", "ssh://", "git://", "file://"))


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _cache_slot(source: str) -> Path:
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    stem = Path(source.rstrip("/")).name.removesuffix(".git") or "source"
    return cache_dir() / "fetch" / f"{stem}-{digest}"


def _git(args: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GspmcError("git is not installed; install git or pass --source an archive (.zip/.tar.gz)") from None
    if done.returncode != 0:
        raise GspmcError(f"git {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def clone(url: str) -> Path:
    """Clone ``url`` (full history: signers come from it) into the cache; reuse a finished clone."""
    slot = _cache_slot(url)
    if (slot / DONE_MARKER).is_file():
        return slot
    remove_stale_temps(slot.parent)  # what an interrupted clone left: start that step again
    tmp = temp_dir(slot)
    print(f"cloning {url} (full history, for the signers) ...")
    try:
        _git(["clone", "--quiet", url, str(tmp)])
        (tmp / DONE_MARKER).write_text(url + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, slot)  # False: another process finished the same clone first; it is as good
    return slot


def extract(archive: Path) -> Path:
    """Extract a local archive into the cache, refusing members that would land outside it."""
    if not archive.is_file():
        raise DataError(archive, "archive not found")
    st = archive.stat()
    slot = _cache_slot(f"{archive.resolve()}:{st.st_size}:{st.st_mtime_ns}")
    if (slot / DONE_MARKER).is_file():
        return slot
    remove_stale_temps(slot.parent)
    tmp = temp_dir(slot)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                root = tmp.resolve()
                for member in zf.namelist():
                    target = (tmp / member).resolve()
                    if root != target and root not in target.parents:
                        raise DataError(archive, f"member {member!r} would be written outside the target folder")
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(tmp, filter="data")  # refuses absolute paths, '..', devices, links out
        (tmp / DONE_MARKER).write_text(str(archive) + "\n")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(archive, f"corrupt or truncated archive: {err}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, slot)
    return slot


def find_data_folder(root: Path, name: str = DATA_FOLDER) -> Path:
    """The ``name`` folder at ``root`` or up to three levels below (archives add a top folder)."""
    if root.name == name and root.is_dir():
        return root
    for depth in range(4):
        hits = sorted(p for p in root.glob("/".join(["*"] * depth + [name])) if p.is_dir() and ".git" not in p.parts)
        if hits:
            if len(hits) > 1:
                raise DataError(root, f"several {name} folders: {[str(h.relative_to(root)) for h in hits]}")
            return hits[0]
    raise DataError(root, f"no {name} folder (expected {name}/<class>/<sequence>/<frame>.npy)")


# ------------------------------------------------------------------------------------------------
# Signers
# ------------------------------------------------------------------------------------------------
def git_signers(repo: Path, data_folder: Path) -> dict[str, str]:
    """Clip id -> author of the newest commit touching any of the clip's frames, from one
    ``git log --name-only`` over the data folder (newest commit first, so the first author seen
    for a clip is its last)."""
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd=repo).strip())
    rel = data_folder.resolve().relative_to(top.resolve()).as_posix()
    out = _git(["-c", "core.quotepath=off", "log", "--format=%x00%an", "--name-only", "--", rel], cwd=top)
    signers: dict[str, str] = {}
    author = ""
    prefix = rel + "/"
    for line in out.splitlines():
        if line.startswith("\0"):
            author = line[1:]
            continue
        if not line.startswith(prefix) or not line.endswith(".npy"):
            continue
        parts = line[len(prefix):].split("/")
        if len(parts) != 3:
            continue
        clip_id = f"{data_folder.name}/{parts[0]}/{parts[1]}"
        signers.setdefault(clip_id, author)
    return signers


def read_signer_map(path: Path) -> dict[str, str]:
    """CSV ``id,signer`` rows or JSON ``{id: signer}``."""
    return dict(read_label_table(path))


def _is_git_repo(path: Path) -> bool:
    if not path.is_dir():
        return False
    done = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=path, capture_output=True,
                          text=True, check=False) if shutil.which("git") else None
    return bool(done and done.returncode == 0 and done.stdout.strip() == "true")


# ------------------------------------------------------------------------------------------------
# Packing
# ------------------------------------------------------------------------------------------------
def write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Compressed ``.npz`` written atomically (``gspmc.io.write_npz``); a failure names the file."""
    try:
        write_npz(path, **arrays)
    except OSError as err:
        raise GspmcError(f"cannot write {path}: {err.strerror or err}; pass --out, or set GSPMC_DATA to a "
                         "writable folder") from None


def pack(
    source: str = DEFAULT_SOURCE,
    out: Path | None = None,
    force: bool = False,
    signer_map: Path | None = None,
    data_folder: str = DATA_FOLDER,
    dtype: str = "float16",
    progress: bool = True,
) -> Path:
    """Fetch (or open) ``source``, read its MP_Data tree, and write the packed npz to ``out``.

    Returns the written (or already present) file. Skips all work when ``out`` exists and
    ``force`` is False.
    """
    out = Path(out) if out is not None else traduttore_path()
    if out.is_file() and not force:
        print(f"{out} is already there (use --force to rebuild it)")
        return out
    local = Path(source).expanduser()
    if local.is_file():
        if not _is_archive(local):
            raise DataError(local, f"not an archive ({', '.join(ARCHIVE_SUFFIXES)}) nor a folder / git repository")
        root, use_git = extract(local), False  # an archive has no history
    elif local.is_dir():
        root, use_git = local, _is_git_repo(local)
    elif _is_url(source):
        root, use_git = clone(source), True
    else:
        raise DataError(local, "no such file or folder (and not a URL)")
    mp_root = find_data_folder(root, data_folder)
    signers: dict[str, str] = {}
    if use_git:
        signers = git_signers(mp_root, mp_root)
        print(f"signers from git history: {len(set(signers.values()))} author(s) over {len(signers)} clips")
    elif signer_map is None:
        print("no git history in the source: signers are unknown (pass --signer-map to give them)")
    if signer_map is not None:
        signers.update(read_signer_map(signer_map))
    arrays = read_mp_data_arrays(mp_root, signers=signers, progress=progress)
    if dtype == "float16":
        half = arrays["keypoints"].astype(np.float16)  # (N, T, F)
        if not np.isfinite(half[np.isfinite(arrays["keypoints"])]).all():
            raise DataError(mp_root, "values too large for float16; pack with --dtype float32")
        arrays["keypoints"] = half
    write_npz_atomic(out, arrays)
    clips = read_mp_npz(out)  # the file must read back
    known = sorted({s.signer for s in clips.samples if s.signer})
    print(f"wrote {out}: {len(clips)} clips, {len(clips.classes)} classes, signers: {', '.join(known) or 'unknown'}")
    return out


def run(args: argparse.Namespace) -> int:
    pack(source=args.source, out=args.out, force=args.force, signer_map=args.signer_map,
         data_folder=args.data_folder, dtype=args.dtype, progress=not args.no_progress)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="fetch the traduttore recordings and pack them into traduttore_asl33.npz",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help="git URL, local git repository, folder, or .zip/.tar.gz archive (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output npz (default: <data dir>/traduttore_asl33.npz; data dir = $GSPMC_DATA)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the output exists")
    parser.add_argument("--signer-map", type=Path, default=None,
                        help="CSV id,signer or JSON {id: signer}; needed for signers from an archive")
    parser.add_argument("--data-folder", default=DATA_FOLDER, help="name of the MP_Data folder (default: %(default)s)")
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                        help="keypoint dtype in the file (default: %(default)s, as the shared file)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
