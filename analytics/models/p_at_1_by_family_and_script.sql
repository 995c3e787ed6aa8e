-- P@1 of each model per language family and script: facts pooled over the group's languages (micro),
-- and the mean of the languages' P@1 (macro). Languages missing from the seed form the group 'unlisted'.
with p_at_1 as (
    select * from {{ source('factroots', 'p_at_1') }}
), groups as (
    select * from {{ ref('language_groups') }}
), grouped as (
    select
        p_at_1.model_id,
        coalesce(groups.family, 'unlisted') as family,
        coalesce(groups.script, 'unlisted') as script,
        p_at_1.lang,
        p_at_1.n_probed,
        p_at_1.n_correct,
        p_at_1.p_at_1
    from p_at_1
    left join groups using (lang)
)
select
    model_id,
    family,
    script,
    count(*) as n_languages,
    string_agg(lang, ',' order by lang) as langs,
    sum(n_probed) as n_probed,
    sum(n_correct) as n_correct,
    sum(n_correct) / nullif(sum(n_probed), 0) as p_at_1,
    avg(p_at_1) as mean_p_at_1
from grouped
group by model_id, family, script
