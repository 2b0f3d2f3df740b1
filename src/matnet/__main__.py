"""``python -m matnet``: the same as the ``matnet`` command."""
import sys

from .cli import main

sys.exit(main())
