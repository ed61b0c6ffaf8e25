"""``python -m gobstopper``: the same command line as the ``gobstopper`` script."""

from __future__ import annotations

from gobstopper.cli.main import main

if __name__ == "__main__":
    main()
