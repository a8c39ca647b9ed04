"""``python -m labrun.experiments.cli``: the ``labrun`` command."""

import sys

from .main import main

sys.exit(main())
