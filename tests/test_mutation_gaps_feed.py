"""What mutation testing of ``service/feed.py`` found untested (issue 20): every kind of
change this version cannot read is a store error, not whatever the decoding raised."""

from __future__ import annotations

import pytest

from skilltroc_core.errors import StoreError
from skilltroc_core.ports import Change
from skilltroc_core.service.feed import read_changes


@pytest.mark.parametrize("data", [
    "not JSON",  # ValueError
    '["a list"]',  # TypeError: a record is an object
    '{"a": 1}',  # KeyError: a field this version needs is missing
])
def test_a_change_whose_data_this_version_cannot_read_is_a_store_error(data: str) -> None:
    with pytest.raises(StoreError) as refused:
        read_changes([Change(position="p", topic="workshop", entity_id="x", data=data)])
    assert refused.value.code == "store_error"
