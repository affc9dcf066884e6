"""Entry point for ``python -m harness``."""

from harness.commands import main

raise SystemExit(main())
