"""Fixtures of the store's tests."""

import pytest

from codeb.store import Store


@pytest.fixture
def store(tmp_path):
    """A tenant's store in a fresh folder (tests/store/test_store.py has its own, on a test clock)."""
    root = tmp_path / "tenant"
    root.mkdir()
    return Store(str(root))
