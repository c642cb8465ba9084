import sys

from bridge_v3.control.cli import main

sys.exit(main())
