"""``nas-harness data prepare NAME PATH`` and ``nas-harness data verify [NAME ...]``.

``prepare`` converts an official benchmark file into the checksummed cache (see
:mod:`harness.data`); ``verify`` checks every cache (checksum, row counts, known optima) and
says what is missing and which official file to obtain. A failed check exits with code 2.
"""

from __future__ import annotations

import time


def register(sub) -> None:
    from harness.data import PREPARERS

    p = sub.add_parser("data", help="prepare and verify the official benchmark data")
    ds = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(p))
    ds.required = True
    pp = ds.add_parser("prepare", help="convert official files into the cache")
    pp.add_argument("name", choices=list(PREPARERS), help="which benchmark's data")
    pp.add_argument("path", help="the official file or directory")
    pp.add_argument("--force", action="store_true", help="convert again even if the cache is up to date")
    pp.set_defaults(func=prepare)
    pv = ds.add_parser("verify", help="check every cache (checksums, row counts, known optima)")
    pv.add_argument("names", nargs="*", help="only these (default: all)")
    pv.set_defaults(func=verify)


def prepare(args) -> int:
    from harness.data import preparer

    t0 = time.time()
    summary = preparer(args.name).prepare(args.path, force=args.force)
    print(f"{summary} in {time.time() - t0:.1f} s")
    return verify_names([args.name])


def verify(args) -> int:
    from harness.data import PREPARERS

    return verify_names(args.names or list(PREPARERS))


def verify_names(names) -> int:
    from harness.data import preparer
    from harness.errors import DataError

    failed = []
    for name in names:
        mod = preparer(name)
        try:
            checks = mod.check()
        except DataError as e:
            hint = _rebuild_hint(name, mod)
            print(f"{name}: FAILED  {e}; {hint}")
            failed.append(f"{name} ({e}; {hint})")
            continue
        if checks is None:
            print(f"{name}: missing  {mod.HOW}")
            continue
        bad = [c for c in checks if not c[1]]
        print(f"{name}: {'ok' if not bad else 'FAILED'}")
        for check, ok, detail in checks:
            print(f"  {'ok  ' if ok else 'FAIL'} {check}: {detail}")
        if bad:
            failed.append(f"{name} ({'; '.join(d for _, _, d in bad)})")
    if failed:
        raise DataError("data verification failed: " + " | ".join(failed))
    return 0


def _rebuild_hint(name, mod) -> str:
    from harness.data import cache
    from harness.errors import DataError

    try:
        src = ((cache.read_sidecar(getattr(mod, "CACHE_NAME", name)) or {}).get("source") or {}).get("path")
    except DataError:
        src = None
    if src and src.endswith("meta.pickle.pbz2"):
        src = src[: -len("/meta.pickle.pbz2")]
    return f"rebuild it: nas-harness data prepare {name} {src} --force" if src else mod.HOW
