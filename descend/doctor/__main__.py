"""`python -m descend.doctor diagnose|lr-find|report ...`."""

from descend.doctor.commands import main

raise SystemExit(main())
