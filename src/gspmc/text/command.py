"""``gspmc embed``: embed every text of a description store once into its embedding cache.

    gspmc embed --store descriptions/X.jsonl [--encoder minilm] [--out FILE] [--rebuild]

Re-running embeds only new or changed texts; a cache written by another encoder is an error
unless ``--rebuild`` (see :mod:`gspmc.text.cache`). With ``--classes`` (a text file, one class
name a line) it also prints how the store covers that class list.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gspmc.errors import DataError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``embed`` sub-command."""
    from gspmc.text.encoders import DEFAULT_ENCODER, list_text_encoders

    p = subparsers.add_parser(
        "embed",
        help="embed a description store's texts once (frozen text encoder cache)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--store", required=True, type=Path, help="description store (JSONL)")
    p.add_argument("--encoder", default=DEFAULT_ENCODER,
                   help=f"text encoder spec (default {DEFAULT_ENCODER}; one of: {', '.join(list_text_encoders())})")
    p.add_argument("--out", type=Path, default=None,
                   help="cache file (default: <store stem>.<encoder name>.emb.npz next to the store)")
    p.add_argument("--rebuild", action="store_true", help="ignore an existing cache and embed everything again")
    p.add_argument("--batch-size", type=int, default=64, help="texts per encoder batch (default 64)")
    p.add_argument("--device", default="cpu", help="torch device for torch encoders (default cpu)")
    p.add_argument("--classes", type=Path, default=None,
                   help="optional class list (one name a line) to report the store's coverage of")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Update the cache and print what was done."""
    from gspmc.text.bank import build_text_bank
    from gspmc.text.cache import default_cache_path, update_cache
    from gspmc.text.descriptions import read_store_texts
    from gspmc.text.encoders import get_text_encoder

    if args.batch_size < 1:
        raise DataError(None, f"--batch-size must be >= 1, got {args.batch_size}")
    store = read_store_texts(args.store)
    encoder = get_text_encoder(args.encoder, device=args.device)
    out = args.out or default_cache_path(store.path, encoder)
    cache, report = update_cache(
        store.all_texts(), encoder, out, rebuild=args.rebuild, source=store.path.name,
        batch_size=args.batch_size, progress=not args.quiet,
    )
    print(report.summary())
    print(f"encoder: {cache.encoder_id} (dim {cache.dim}); glosses: {len(store.texts)} ok, {len(store.failed)} failed")
    if args.classes is not None:
        if not args.classes.is_file():
            raise DataError(args.classes, "class list not found")
        classes = [ln.strip() for ln in args.classes.read_text(encoding="utf-8").splitlines() if ln.strip()]
        print(build_text_bank(store, cache, classes).report())
    return 0
