"""``stack``: structured arrays joined as ``np.concatenate`` joins them."""

from __future__ import annotations

import numpy as np

from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE
from bridge_v3.services.records import stack


def rates(times: list[int]) -> np.ndarray:
    made = np.zeros(len(times), RATES_DTYPE)
    made["time"] = times
    made["close"] = np.array(times) / 7
    made["tick_volume"] = np.array(times) * 3
    return made


def test_rows_of_many_arrays_slices_and_empty_ones_come_out_in_order() -> None:
    whole = rates([1, 2, 3, 4, 5])
    parts = [whole, whole[::2], whole[:0], rates([9])]

    joined = stack(parts)

    assert joined.dtype == RATES_DTYPE
    assert joined.tolist() == np.concatenate(parts).tolist()
    joined["close"][0] = 42.0  # a new array of its own: writable, the inputs untouched
    assert whole["close"][0] == 1 / 7


def test_arrays_of_different_dtypes_are_joined_as_numpy_does() -> None:
    narrow = np.zeros(2, dtype=[("time", "<i8"), ("close", "<f4")])
    wide = np.zeros(1, dtype=[("time", "<i8"), ("close", "<f8")])

    assert stack([narrow, wide]).dtype == np.concatenate([narrow, wide]).dtype
