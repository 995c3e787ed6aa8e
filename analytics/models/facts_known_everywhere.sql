-- The facts a model predicts correctly in every language it probed (with mLAMA's own template, as the
-- paper's P@1); labels from the first such language in alphabetical order.
with predictions as (
    select * from {{ source('factroots', 'predictions') }}
    where template_id = 'mlama'
), probed_languages as (
    select model_id, count(distinct lang) as n_languages
    from predictions
    where probe_status = 'probed'
    group by model_id
), per_fact as (
    select
        model_id,
        uuid,
        any_value(relation) as relation,
        count(distinct lang) filter (where is_correct) as n_correct,
        arg_min(sub_label, lang) as sub_label,
        arg_min(obj_label, lang) as obj_label
    from predictions
    group by model_id, uuid
)
select
    per_fact.model_id,
    per_fact.uuid,
    per_fact.relation,
    per_fact.n_correct as n_languages,
    per_fact.sub_label,
    per_fact.obj_label
from per_fact
join probed_languages using (model_id)
where per_fact.n_correct = probed_languages.n_languages
