"""Fixtures of the EU Wallet's unit tests: a test PID provider's CA and the tenant's trust in it."""

import pytest

from codeb.wallet.trust import Anchor
from tests.support.pid_ca import PidCA


@pytest.fixture(scope="module")
def ca():
    return PidCA()


@pytest.fixture(scope="module")
def anchors(ca):
    return [Anchor(id="pid-de", certificate=ca.root)]
