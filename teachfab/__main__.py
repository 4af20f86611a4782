"""``python -m teachfab``: the same as the ``teachfab`` command."""

import sys

from teachfab.cli import main

sys.exit(main())
