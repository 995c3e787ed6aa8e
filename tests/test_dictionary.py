"""Every published table and column is described, and the dictionary shows them all."""
from __future__ import annotations

from warehouse.dictionary import dictionary
from warehouse.transform import context


def test_every_mart_column_has_a_description(settings):
    ctx = context(settings, progress=False)
    try:
        marts = [m for m in ctx.models.values() if m.schema_name == "marts"]
        for model in marts:
            assert model.description, model.name
            undescribed = set(model.columns_to_types) - set(model.column_descriptions)
            assert not undescribed, f"{model.name}: {sorted(undescribed)}"
    finally:
        ctx.close()
    text = dictionary(settings)
    for model in marts:
        assert f"## {model.name.split('.')[-1].strip(chr(34))}\n" in text
    assert "| `is_correct` | BOOLEAN | full match" in text
