"""The examples in the docstrings of the analysis, flow and experiment functions run as written
(the docstrings are the functions' documentation: an example that no longer holds misleads)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "abm.analysis.economics",
    "abm.flows.base_rates",
    "abm.experiments.plan",
    "abm.experiments.sensitivity",
    "abm.experiments.variance",
)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples to run"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} fail"
