"""The calibrated synthetic bone-metastasis cohort, one concept per module.

- :mod:`.parameters`  default parameters with their sources, scenario knobs and their checks;
- :mod:`.covariates`  patient characteristics at diagnosis (age, receptors, grade, size, nodes, stage);
- :mod:`.metastasis`  first distant metastasis, its pattern (bone / bone and visceral / visceral) and deaths;
- :mod:`.skeletal`    skeletal-related events after bone metastasis and bone-targeted therapy;
- :mod:`.frames`      the canonical ``patients`` and ``skeletal_events`` tables (dates, codes, censoring);
- :mod:`.truth`       the true marginal quantities the parameters imply, by numerical integration.

The public entry points are :func:`bmstats.simulate.simulate_cohort` and :func:`bmstats.simulate.write_simulation`.
"""
