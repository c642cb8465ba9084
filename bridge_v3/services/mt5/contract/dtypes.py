"""numpy dtypes of the arrays returned by ``copy_rates_*`` and ``copy_ticks_*``.

The real module builds packed (unaligned) records of 60 bytes; ``spread``/``flags`` are
4-byte fields at offset 48, so the 8-byte field after them sits at the unaligned offset 52.
"""

import numpy as np

RATES_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("tick_volume", "<u8"),
        ("spread", "<i4"),
        ("real_volume", "<u8"),
    ]
)

TICKS_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("bid", "<f8"),
        ("ask", "<f8"),
        ("last", "<f8"),
        ("volume", "<u8"),
        ("time_msc", "<i8"),
        ("flags", "<u4"),
        ("volume_real", "<f8"),
    ]
)

assert RATES_DTYPE.itemsize == 60 and TICKS_DTYPE.itemsize == 60
