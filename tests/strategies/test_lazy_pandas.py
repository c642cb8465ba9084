"""pandas (tens of MB resident) is loaded only when a strategy actually runs."""

import subprocess
import sys

PROBE = "import sys, bridge_v3.main, bridge_v3.daemon; print('pandas' in sys.modules)"


def test_starting_the_daemon_does_not_import_pandas():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_a_strategy_run_still_gets_pandas_frames():
    probe = (
        "import sys; from bridge_v3.strategies.indicators import true_range; "
        "import pandas as pd; "
        "f = pd.DataFrame({'high': [2.0, 3.0], 'low': [1.0, 1.5], 'close': [1.5, 2.0]}); "
        "print(list(true_range(f).fillna(-1)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[-1.0, 1.5]"  # no previous close for the first bar
