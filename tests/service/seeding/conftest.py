"""Fixtures: the test search spaces."""

from __future__ import annotations

import pytest
from ConfigSpace import ConfigurationSpace

from tests.service.seeding.spaces import SPACES, logistic_space, mlp_space, svm_space


@pytest.fixture(params=sorted(SPACES))
def any_space(request: pytest.FixtureRequest) -> ConfigurationSpace:
    """Each test space in turn."""
    return SPACES[request.param]()


@pytest.fixture
def mlp() -> ConfigurationSpace:
    """The MLP-shaped space."""
    return mlp_space()


@pytest.fixture
def svm() -> ConfigurationSpace:
    """The SVM-shaped space."""
    return svm_space()


@pytest.fixture
def logistic() -> ConfigurationSpace:
    """The space with forbidden clauses."""
    return logistic_space()
