"""The SQLMesh project: its YAML unit tests (tests/*.yaml) pass, and its models follow the layers."""
from __future__ import annotations

import pytest

from warehouse.transform import context


@pytest.fixture
def ctx(settings):
    ctx = context(settings, progress=False)
    yield ctx
    ctx.close()


def test_sqlmesh_unit_tests_pass(ctx):
    result = ctx.test()
    failed = [str(test) for test, _ in result.failures + result.errors]
    assert result.testsRun >= 7 and not failed, failed


def test_models_follow_the_layers(ctx):
    """staging reads raw only; intermediate reads staging and intermediate; a mart selects one
    intermediate model."""
    allowed = {"staging": {"raw"}, "intermediate": {"staging", "intermediate"}, "marts": {"intermediate"}}
    layers = {model.schema_name for model in ctx.models.values()}
    assert layers == {"raw", *allowed}
    for model in ctx.models.values():
        if model.schema_name == "raw":  # external: written by factroots' loaders
            continue
        sources = {name.split(".")[-2].strip('"') for name in model.depends_on}
        assert sources <= allowed[model.schema_name], f"{model.name} reads {sorted(sources)}"
        if model.schema_name == "marts":
            assert len(model.depends_on) == 1, f"{model.name} reads {sorted(model.depends_on)}"
