"""Subcommands of the ``kinmatch`` CLI, one module each, each exposing ``register(subparsers)``."""
