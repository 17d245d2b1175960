"""`python -m descend.doctor diagnose|lr-find|report ...`."""

from descend import report
from descend.cli.doctor import main

raise SystemExit(main(report=report))
