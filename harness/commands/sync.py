"""``nas-harness sync``: log raw records that never reached the tracking store."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("sync", help="log raw records under results/ that are not yet in the MLflow store")
    p.add_argument("--protocol-id", help="only this protocol id (e.g. nb201-cifar10-v1); default all")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or sqlite under results/)")
    p.set_defaults(func=main)


def main(args) -> int:
    from harness import tracking
    from harness.sweep import sync

    logged, present = sync(args.protocol_id, args.tracking_uri)
    print(f"logged {logged} run(s); {present} already in {tracking.resolve_uri(args.tracking_uri)}")
    return 0
