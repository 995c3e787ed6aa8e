"""Every published table and column is described, and the dictionary shows them all."""
from __future__ import annotations

from warehouse.dictionary import dictionary, published_tables


def test_every_mart_column_has_a_description(settings):
    marts = published_tables(settings)
    for model in marts:
        assert model.description, model.name
        undescribed = {column for column, _, text in model.columns if not text}
        assert not undescribed, f"{model.name}: {sorted(undescribed)}"
    text = dictionary(settings)
    for model in marts:
        assert f"## {model.name}\n" in text
    assert "| `is_correct` | BOOLEAN | full match" in text
