"""The command line every bench script shares: sizes, --repeat, --tiny, --out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def parser(
    description: str | None, sizes: dict[str, int], tiny: dict[str, int]
) -> argparse.ArgumentParser:
    """Options: one --<size> per size (its default, or its tiny value with --tiny)."""
    parse = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name, default in sizes.items():
        parse.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=None,
            help=f"default {default}, tiny {tiny[name]}",
        )
    parse.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per figure; medians are quoted (default 3, tiny 1)",
    )
    parse.add_argument(
        "--tiny", action="store_true", help="tiny sizes, one run: keeps the script from rotting"
    )
    parse.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON path (default bench/results/<name>-<time>.json)",
    )
    parse.set_defaults(_sizes=sizes, _tiny=tiny)
    return parse


def sizes_of(args: argparse.Namespace) -> dict[str, Any]:
    """The sizes this run uses (given, else tiny or default), and the repeat count."""
    chosen = args._tiny if args.tiny else args._sizes
    sizes = {name: getattr(args, name) or chosen[name] for name in args._sizes}
    args.repeat = args.repeat or (1 if args.tiny else 3)
    return sizes
