from collections.abc import Iterator

import pytest

from chat.fakeupstream.testing import RunningFake, start_fake_upstream


@pytest.fixture(scope="session")
def fake_upstream_process() -> Iterator[RunningFake]:
    """One real `python -m chat.fakeupstream` process; tests pick scenarios per request."""
    with start_fake_upstream(["--tps", "0"]) as fake:
        yield fake
