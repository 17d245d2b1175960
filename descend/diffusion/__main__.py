"""`python -m descend.diffusion diffusion ...`: the diffusion command alone."""

from descend.cli.diffusion import main

raise SystemExit(main())
