"""``python -m bridge_v3`` runs the bridge, like ``python -m bridge_v3.main``."""

import sys

from bridge_v3.main import main

sys.exit(main())
