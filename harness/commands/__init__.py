"""Subcommands of ``nas-harness``; each module has ``register(subparsers)``."""
