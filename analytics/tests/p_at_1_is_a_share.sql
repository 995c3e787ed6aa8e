-- P@1 of a family and script lies in [0, 1] (rows returned fail the test).
select * from {{ ref('p_at_1_by_family_and_script') }}
where p_at_1 not between 0 and 1 or mean_p_at_1 not between 0 and 1
