"""Suppressing and enhancing neurons by hook, against an independent edit of the weights: the
matching inputs of the last layer's FFN output projection zeroed or doubled in a copy of the model
(in the last layer the FFN at the other positions cannot reach the predicting positions, so the
two edits are the same function of the input). And `intervene` measuring a query again exactly when
its neuron sets changed."""

import copy
import hashlib

import pytest
import torch

from compute.interventions import OPS, Edit, outcomes
from conftest import HAND_MADE_SETS, rows, warehouse
from raw import db
from test_attribution import gold_probability, tiny
from test_model_loading import saved
from test_probe import tiny_bert
from warehouse.neurons import intervene
from warehouse.probing import probe


@pytest.fixture(scope="module", params=["masked", "causal"])
def setup(request):
    return tiny(request.param)


def edited_weights(loaded, projections, neurons, factor):
    """A copy of the model whose last-layer output projection's inputs `neurons` are scaled by `factor`."""
    model = copy.deepcopy(loaded.model)
    last = len(projections) - 1
    name = next(name for name, m in loaded.model.named_modules() if m is projections[last])
    projection, indices = model.get_submodule(name), [n - last * loaded.d_ff for n in neurons]
    with torch.no_grad():
        if isinstance(projection, torch.nn.Linear):
            projection.weight[:, indices] *= factor  # (out, in): an input neuron is a column
        else:
            projection.weight[indices, :] *= factor  # GPT-2's Conv1D (in, out): an input neuron is a row
    return model


@pytest.mark.parametrize("op", ["suppress", "enhance"])
def test_hook_equals_editing_the_output_projection(setup, op):
    loaded, queries, projections = setup
    d_ff, last = loaded.d_ff, len(projections) - 1
    sets = [[last * d_ff + i for i in (0, 5, 17)], [last * d_ff + i for i in range(0, d_ff, 3)], []]
    edits = [Edit(q, tuple(s), OPS[op]) for q, s in zip(queries, sets)]
    got = list(outcomes(loaded, edits, batch_size=3, progress=False))
    for edit, outcome, neurons in zip(edits, got, sets):
        model = edited_weights(loaded, projections, neurons, OPS[op])
        with torch.no_grad():
            expected = gold_probability(model, None, edit.query).item()
            before = gold_probability(loaded.model, None, edit.query).item()
        assert outcome.gold_prob == pytest.approx(expected, rel=1e-5)
        assert (outcome.gold_prob == pytest.approx(before, rel=1e-6)) == (not neurons)


def test_lower_layers_act_through_the_predicting_positions_only(setup):
    """Suppressing a first-layer neuron equals the test's own hook zeroing it at the predicting positions."""
    loaded, queries, projections = setup
    neurons = (3, 8, 40)

    def zeroed(x):
        x = x.clone()
        x[:, list(neurons)] = 0
        return x

    (got,) = outcomes(loaded, [Edit(queries[1], neurons, 0.0)], progress=False)
    with torch.no_grad():
        expected = gold_probability(loaded.model, projections[0], queries[1], replace=zeroed).item()
    assert got.gold_prob == pytest.approx(expected, rel=1e-5)


def test_full_match_follows_the_argmax():
    """is_correct is the probe's full match: the argmax of the model's own logits at every position."""
    loaded, queries, projections = tiny("masked")
    q = queries[0]
    with torch.no_grad():
        logits = loaded.model(input_ids=torch.tensor([q.input_ids])).logits[0, q.mask_positions]
    predicted = logits.argmax(-1).tolist()
    (before,) = outcomes(loaded, [Edit(q)], progress=False)
    assert before.is_correct == (predicted == q.gold_ids)
    fake = copy.copy(q)
    fake.gold_ids = predicted
    (right,) = outcomes(loaded, [Edit(fake)], progress=False)
    assert right.is_correct


def test_intervene_measures_again_the_queries_whose_sets_changed(tmp_path):
    """3 facts in en and de, every one correct, with hand-made sets: per query 2 ops x 7 sets
    (PROBELESS, its random control and knowledge neurons, each from en and de; language-agnostic)."""
    model_dir = saved(tmp_path / "model", *tiny_bert())
    settings = warehouse(tmp_path, "w", 3)
    probe(settings.build_database, str(model_dir), settings.shard_dir, activations="none", progress=False)

    def sql(statement: str) -> None:
        con = db.connect(settings.build_database)
        try:
            con.execute(statement)
        finally:
            con.close()

    def measure(seed: int = 0) -> dict:
        return intervene(settings.build_database, str(model_dir), settings.shard_dir, seed=seed, progress=False).done

    sql("UPDATE raw.predictions SET is_correct = true")   # the untrained model gets none right
    sql(HAND_MADE_SETS)
    assert measure() == {"de": 3, "en": 3}
    assert rows(settings.build_database, "SELECT count(*) FROM raw.interventions") == [(3 * 2 * 7 * 2,)]
    assert measure() == {}                                  # the same sets: nothing to measure again

    sql("UPDATE intermediate.int_knowledge_neurons SET neuron_id = 66 WHERE uuid = 'u001' AND lang = 'en' "
        "AND neuron_id = 64")                               # u001's knowledge neurons in en: 5, 64 -> 5, 66
    assert measure() == {"de": 1, "en": 1}                  # u001 in both languages B, every set again
    last = rows(settings.build_database, "SELECT DISTINCT set_md5, n_neurons FROM raw.interventions WHERE "
                "uuid = 'u001' AND set_kind = 'knowledge' AND set_lang = 'en' AND load_batch = "
                "(SELECT max(load_batch) FROM raw.interventions)")
    assert last == [(hashlib.md5(b"5,66").hexdigest(), 2)]

    sql("DELETE FROM intermediate.int_language_agnostic_neurons WHERE uuid = 'u002'")   # a set gone
    sql("UPDATE raw.interventions SET set_md5 = NULL WHERE uuid = 'u000'")              # rows written before md5s
    assert measure() == {"de": 2, "en": 2}
    assert measure(seed=1) == {"de": 3, "en": 3}            # other random controls
    assert measure(seed=1) == {}
