MODEL (
  name marts.active_neuron_layers,
  kind VIEW,
  grain (model_id, lang, layer, layer_bin),
  references (model_id AS models),
  description 'Where the active neurons of a language sit (the paper''s Figure 4 as a table): counts per layer and per bin of neuron index (layer_bins equal bins per layer), every bin listed.'
);

SELECT * FROM intermediate.int_active_neuron_layers
