"""``python -m bench`` runs the talkbench command line."""

import sys

from bench.cli import main

if __name__ == "__main__":  # not when a spawned worker process (evaluate --workers) imports the main module
    sys.exit(main())
