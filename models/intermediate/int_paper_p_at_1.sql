MODEL (
  name intermediate.int_paper_p_at_1,
  kind VIEW,
  grain (paper_model, lang),
  description 'The paper''s published P@1 per language (staging.stg_paper_p_at_1), published as marts.paper_p_at_1.'
);

SELECT
  paper_model, -- the paper's model: mBERT or XLM-R
  lang, -- language (mLAMA code)
  language, -- the language's English name, as in the paper
  p_at_1 -- published P@1 (full match, micro over facts), as a fraction (the paper prints percent)
FROM staging.stg_paper_p_at_1
