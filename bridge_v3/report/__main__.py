"""``python -m bridge_v3.report`` (see ``bridge_v3.report.cli``)."""

import sys

from bridge_v3.report.cli import main

sys.exit(main())
