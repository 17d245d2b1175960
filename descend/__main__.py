"""`python -m descend` runs the command line."""

from descend.cli import main

raise SystemExit(main())
