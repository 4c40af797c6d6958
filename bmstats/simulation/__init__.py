"""The calibrated synthetic bone-metastasis cohort, one concept per module.

- :mod:`.parameters`  default parameters with their sources, scenario knobs and their checks;
- :mod:`.covariates`  patient characteristics at diagnosis (age, receptors, grade, size, nodes, stage);
- :mod:`.metastasis`  first distant metastasis, its pattern (bone / bone and visceral / visceral) and deaths;
- :mod:`.skeletal`    skeletal-related events after bone metastasis and bone-targeted therapy;
- :mod:`.frames`      the canonical ``patients`` and ``skeletal_events`` tables (dates, codes, censoring);
- :mod:`.truth`       the true marginal quantities the parameters imply, by numerical integration;
- :mod:`.cohort`      the entry points that put them together (``simulate_cohort``, ``write_simulation``).

The public entry points are :func:`bmstats.simulation.simulate_cohort` and :func:`bmstats.simulation.write_simulation`.
"""
from bmstats.simulation.cohort import (
    scenario_knobs,
    simulate_cohort,
    simulate_frames,
    true_values,
    write_simulation,
)

__all__ = ["simulate_cohort", "simulate_frames", "write_simulation", "scenario_knobs", "true_values"]
