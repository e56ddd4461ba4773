"""A small resolved city behind the API, built once per module and backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_city import BACKENDS, City
from resolved_city import resolved_city


@pytest.fixture(scope="module", params=BACKENDS)
def city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    directory = tmp_path_factory.mktemp("city")
    engine = resolved_city(request, directory)
    yield City(engine, directory)
    engine.dispose()
