"""``talkbench weights list|fetch|verify|path``: the pretrained files behind some metrics."""

from __future__ import annotations

import argparse
import sys

from bench import weights


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``weights`` command and its sub-commands."""
    parser = subparsers.add_parser("weights", help="pretrained files: list, fetch (or import), verify, path")
    sub = parser.add_subparsers(dest="weights_command", metavar="WEIGHTS_COMMAND")
    parser.set_defaults(handler=lambda args: _help(parser))

    listing = sub.add_parser("list", help="every pretrained file, whether it is here, and what uses it")
    listing.set_defaults(handler=_list)

    fetch = sub.add_parser("fetch", help="download files (checksum, atomic) or import them with --from DIR")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="files to download (see `talkbench weights list`)")
    fetch.add_argument("--all", action="store_true", help="download every file that has an address")
    fetch.add_argument("--from", dest="source", metavar="DIR", help="import files obtained by hand from DIR")
    fetch.add_argument("--force", action="store_true", help="download again even if a verified file is here")
    fetch.add_argument("--allow-unverified", action="store_true", help="accept files for which no SHA-256 is recorded yet")
    fetch.set_defaults(handler=_fetch)

    verify = sub.add_parser("verify", help="check the SHA-256 of files here (all present files by default)")
    verify.add_argument("names", nargs="*", metavar="NAME")
    verify.set_defaults(handler=_verify)

    where = sub.add_parser("path", help="print where a file is (error with the fetch command if missing)")
    where.add_argument("name", metavar="NAME")
    where.set_defaults(handler=_path)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _list(args: argparse.Namespace) -> int:
    print(f"weights directory: {weights.weights_dir()}")
    from bench.availability import weight_users

    users = weight_users()
    rows = [("name", "here", "size", "sha256", "used by", "file")]
    for entry in weights.TABLE.values():
        size = f"{entry.size / 2**20:.1f} MiB" if entry.size else "?"
        sha = entry.sha256[:12] if entry.sha256 else "not recorded"
        here = "yes" if weights.available(entry.name) else "no"
        rows.append((entry.name, here, size, sha, _families(users.get(entry.name, ["-"])), entry.filename))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    return 0


def _families(names: list[str]) -> str:
    """``names`` without the variants of another listed name (``lse-d-wav2lip-lrs`` under ``lse-d``), for a narrow column."""
    kept = sorted(n for n in names if not any(n.startswith(f"{other}-") for other in names))
    return ",".join(kept) + (" (+ variants)" if len(kept) < len(names) else "")


def _fetch(args: argparse.Namespace) -> int:
    if args.source:
        if args.names or args.all:
            raise ValueError("--from DIR imports every known file found there; give no NAME or --all with it")
        imported = weights.import_from(args.source, allow_unverified=args.allow_unverified)
        for name in imported:
            print(f"{name}: imported to {weights.path(name)}")
        if not imported:
            print(f"no known pretrained file found under {args.source}", file=sys.stderr)
            return 1
        return 0
    names = [e.name for e in weights.TABLE.values() if e.url] if args.all else args.names
    if not names:
        raise ValueError("name the files to fetch (see `talkbench weights list`), or use --all or --from DIR")
    failed = 0
    for name in names:
        entry = weights.get(name)
        if not args.force and weights.available(name) and entry.sha256 and weights.verify(name):
            print(f"{name}: already here and verified ({weights.path(name)})")
            continue
        try:
            target = weights.fetch(name, allow_unverified=args.allow_unverified)
        except (OSError, ValueError) as exc:
            message = str(exc) if str(exc).startswith(f"{name}:") else f"{name}: {exc}"
            print(f"not fetched: {message}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: {target}")
    return 1 if failed else 0


def _verify(args: argparse.Namespace) -> int:
    names = args.names or [name for name in weights.TABLE if weights.available(name)]
    if not names:
        print(f"no pretrained files in {weights.weights_dir()}")
        return 0
    bad = 0
    for name in names:
        try:
            ok = weights.verify(name)
        except weights.WeightsUnverifiableError as exc:
            print(f"{name}: UNVERIFIABLE: {exc}")
            bad += 1
            continue
        except weights.WeightsMissingError as exc:
            print(f"{name}: MISSING: {exc}")
            bad += 1
            continue
        print(f"{name}: {'ok' if ok else 'CHECKSUM MISMATCH'} ({weights.path(name)})")
        bad += not ok
    return 1 if bad else 0


def _path(args: argparse.Namespace) -> int:
    print(weights.path(args.name))
    return 0
