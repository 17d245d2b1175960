"""`python -m descend.diffusion ...`: the diffusion command alone."""

import sys

from descend.diffusion.commands import main

sys.exit(main())
