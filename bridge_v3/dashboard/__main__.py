"""``python -m bridge_v3.dashboard`` (see ``bridge_v3.dashboard.cli``)."""

import sys

from bridge_v3.dashboard.cli import main

sys.exit(main())
