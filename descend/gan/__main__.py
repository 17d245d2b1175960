"""`python -m descend.gan gan|detect ...` runs the GAN commands without the rest of the CLI."""

from descend.cli.gan import main

raise SystemExit(main())
