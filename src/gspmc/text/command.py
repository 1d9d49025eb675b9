"""``gspmc embed``: embed every text of a description store once into its embedding cache.

    gspmc embed --store descriptions/X.jsonl [--encoder minilm] [--out FILE] [--rebuild]
                [--classes CLASSES [--gate global:0.6 ...]]

Re-running embeds only new or changed texts; a cache written by another encoder is an error
unless ``--rebuild`` (see :mod:`gspmc.text.cache`). With ``--classes`` (a text file with one class
name a line, or any vocabulary file ``gspmc describe --vocab`` reads: the dataset's npz, AUTSL/SLR500
CSV, ...) it also prints how the store covers that class list and how separable its texts are (per
kind: mean and max cosine between texts of different classes, class pairs >= 0.9, texts shared by
several classes; and, comparable across encoders, the nearest other class's cosine after centring and
the share of texts whose closest text is of their own class, also for ``global+synonym`` pooled), and
writes those figures next to the cache as ``<cache stem>.separability.json``.
``--gate KIND:MEAN`` fails (exit code 3) when a kind's mean cross-class cosine is above MEAN.
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
                   help="class list (one name a line, or a vocabulary file: npz / csv / tsv) to report the store's "
                        "coverage and separability for")
    p.add_argument("--gate", action="append", default=[], metavar="KIND:MEAN",
                   help="with --classes: fail (exit 3) if KIND's mean cross-class cosine exceeds MEAN "
                        "(e.g. global:0.6; repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Update the cache and print what was done."""
    from gspmc.io import write_json
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
    if args.gate and args.classes is None:
        raise DataError(None, "--gate needs --classes (separability is measured between classes)")
    if args.classes is not None:
        classes = read_classes(args.classes)
        bank = build_text_bank(store, cache, classes)
        print(bank.report())
        sep = bank.separability()
        path = separability_path(out)
        write_json(path, {"store": str(store.path), "encoder": cache.encoder_id, "classes": len(classes),
                          "class_list": str(args.classes), "kinds": sep})
        print(f"separability: {path}")
        failed = check_gates(sep, args.gate)
        for line in failed:
            print(f"GATE FAILED: {line}")
        if failed:
            return 3
    return 0


def read_classes(path: Path) -> list[str]:
    """Class names from a text file (one a line) or any vocabulary file ``gspmc describe`` reads."""
    if not path.is_file():
        raise DataError(path, "class list not found")
    if path.suffix.lower() == ".txt":
        names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not names:
            raise DataError(path, "the class list is empty")
        return names
    from gspmc.describe.vocab import read_vocab

    return [v.gloss for v in read_vocab(path)]


def separability_path(cache_path: Path) -> Path:
    """``X.minilm.emb.npz`` -> ``X.minilm.separability.json`` (next to the cache)."""
    name = cache_path.name.removesuffix(".npz").removesuffix(".emb")
    return cache_path.with_name(f"{name}.separability.json")


def check_gates(sep: dict[str, dict], gates: list[str]) -> list[str]:
    """The ``KIND:MEAN`` gates that fail (a kind without cross-class pairs fails too)."""
    failed = []
    for gate in gates:
        kind, _, value = gate.partition(":")
        try:
            limit = float(value)
        except ValueError:
            raise DataError(None, f"--gate {gate!r}: expected KIND:MEAN, e.g. global:0.6") from None
        if kind not in sep:
            raise DataError(None, f"--gate {gate!r}: no kind {kind!r} (kinds: {', '.join(sep)})")
        mean = sep[kind]["mean_cross_cosine"]
        if mean is None or mean > limit:
            failed.append(f"{kind}: mean cross-class cosine {mean} > {limit:g}")
    return failed
