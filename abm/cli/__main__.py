"""``python -m abm.cli ...``: the ``abm`` command without its console script (tests run it in a
child process this way)."""

import sys

from abm.cli.entry import main

sys.exit(main())
