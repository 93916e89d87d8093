"""``python -m bench`` runs the talkbench command line."""

import sys

from bench.cli import main

sys.exit(main())
