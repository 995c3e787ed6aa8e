MODEL (
  name marts.paper_p_at_1,
  kind VIEW,
  grain (paper_model, lang),
  description 'The published P@1 per language of Zhao, Yoshinaga & Oba (EACL 2024), Table 2, for mBERT and XLM-R on mLAMA: shipped with the project so that results can be compared with the paper (the report does).'
);

SELECT * FROM intermediate.int_paper_p_at_1
