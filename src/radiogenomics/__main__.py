"""``python -m radiogenomics``: the command line."""

from radiogenomics.cli import main

raise SystemExit(main())
