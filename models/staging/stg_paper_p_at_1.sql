MODEL (
  name staging.stg_paper_p_at_1,
  kind SEED (path '../../seeds/paper_p_at_1.csv'),
  columns (paper_model TEXT, lang TEXT, language TEXT, p_at_1 DOUBLE),
  column_descriptions (
    paper_model = 'the paper''s model: mBERT or XLM-R',
    lang = 'language (mLAMA code)',
    language = 'the language''s English name, as in the paper',
    p_at_1 = 'published P@1 (full match, micro over facts), as a fraction (the paper prints percent)'
  ),
  grain (paper_model, lang),
  description 'The published P@1 per language of Zhao, Yoshinaga & Oba (EACL 2024), Table 2, for mBERT and XLM-R on mLAMA, shipped with the project in seeds/paper_p_at_1.csv.',
  audits (
    unique_combination_of_columns(columns := (paper_model, lang)),
    not_null(columns := (paper_model, lang, language, p_at_1)),
    accepted_range(column := p_at_1, min_v := 0, max_v := 1)
  )
);
