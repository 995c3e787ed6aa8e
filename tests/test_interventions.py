"""Suppressing and enhancing neurons by hook, against an independent edit of the weights: the
matching inputs of the last layer's FFN output projection zeroed or doubled in a copy of the model
(in the last layer the FFN at the other positions cannot reach the predicting positions, so the
two edits are the same function of the input)."""

import copy

import pytest
import torch

from compute.interventions import OPS, Edit, outcomes
from test_attribution import gold_probability, tiny


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
