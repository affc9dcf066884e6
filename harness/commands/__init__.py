"""Subcommands of the command line, one module each; every module provides ``add_parser(subparsers)``."""
