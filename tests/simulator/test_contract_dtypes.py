"""The packed numpy dtypes of copy_rates_* / copy_ticks_*, field by field from the contract."""

from __future__ import annotations

import numpy as np
import pytest

from bridge_v3.services.mt5.contract import dtypes
from tests.simulator.face_support import CONTRACT

DTYPES = {k: v for k, v in CONTRACT["numpy_dtypes"].items() if not k.startswith("_")}


@pytest.mark.parametrize("name", list(DTYPES))
def test_dtype_fields_offsets_and_size(name: str) -> None:
    dtype = getattr(dtypes, name)
    spec = DTYPES[name]
    assert dtype.itemsize == spec["itemsize"] == 60
    assert list(dtype.names) == [f[0] for f in spec["fields"]]
    for field, kind, offset in spec["fields"]:
        assert dtype.fields[field][0] == np.dtype(kind)
        assert dtype.fields[field][1] == offset
    assert not dtype.isalignedstruct
