"""``python -m bridge_v3.client`` (see ``bridge_v3.client.cli``)."""

import sys

from bridge_v3.client.cli import main

sys.exit(main())
