"""CLI of gspmc.openvocab: ``gspmc enroll`` (see docs/open-vocabulary.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``enroll`` sub-command."""
    p = subparsers.add_parser(
        "enroll", help="add a class to a GSP-MC checkpoint from clips and/or a description (no training); "
        "remove or list classes",
        description="Adds a class as a prototype in the checkpoint's text-embedding space: no gradient step. "
        "The written checkpoint works with predict, export and live like any other. Nothing is written "
        "unless the whole enrolment succeeds.")
    p.add_argument("--checkpoint", "-c", required=True, type=Path, help="a GSP-MC checkpoint (training or enrolled)")
    p.add_argument("--gloss", help="name of the class to add")
    p.add_argument("--clips", nargs="+", metavar="FILE", default=[],
                   help="videos or keypoint files (.pose / .npz) of the sign, e.g. 1-5")
    p.add_argument("--description", help="how the sign is made, in words (embedded with the checkpoint's text encoder)")
    p.add_argument("--replace", action="store_true", help="allow --gloss to redefine an existing class")
    p.add_argument("--text-weight", type=float, default=None,
                   help="weight of the description against the clips when both are given (default: the value "
                   "chosen on validation, docs/open-vocabulary.md)")
    p.add_argument("--bias", type=float, default=None,
                   help="calibration added to the new class's score (default: the value chosen on validation, "
                   "one for classes with clips, one for description-only classes); higher favours the class")
    p.add_argument("--remove", nargs="+", metavar="NAME", help="remove these classes instead of adding one")
    p.add_argument("--list", action="store_true", help="list the checkpoint's classes and exit")
    p.add_argument("--units", choices=("normalized", "pixels"), default="normalized", help="as for predict")
    p.add_argument("--out", type=Path, help="checkpoint to write (required to add or remove)")
    p.set_defaults(func=run_enroll)


def run_enroll(args: argparse.Namespace) -> int:
    from gspmc.errors import ConfigError
    from gspmc.openvocab.enroll import describe_classes, enroll, remove

    if args.list:
        if args.gloss or args.remove:
            raise ConfigError("--list cannot be combined with --gloss or --remove")
        print(describe_classes(args.checkpoint))
        return 0
    if args.out is None:
        raise ConfigError("--out is required to add or remove a class")
    if args.remove:
        if args.gloss or args.clips or args.description is not None:
            raise ConfigError("--remove cannot be combined with --gloss, --clips or --description")
        result = remove(args.checkpoint, args.out, args.remove)
    else:
        if not args.gloss:
            raise ConfigError("--gloss is required (or use --remove / --list)")
        result = enroll(args.checkpoint, args.out, args.gloss, args.clips, args.description, replace=args.replace,
                        text_weight=args.text_weight, bias=args.bias, units=args.units)
    print(f"enroll: {result.message}")
    return 0
