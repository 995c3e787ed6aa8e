MODEL (
  name marts.method_agreement,
  kind VIEW,
  grain (model_id, lang, uuid),
  references (model_id AS models),
  description 'Per (model, lang, fact) with both, how far its PROBELESS active neurons (top k_neurons) and its knowledge neurons agree: Jaccard of the two sets, and rank_overlap = the share of the top n of each ranking found in the top n of the other, n = the smaller set''s size (knowledge neurons ranked by mean attribution / largest, ties by lower neuron id).'
);

SELECT * FROM intermediate.int_method_agreement
