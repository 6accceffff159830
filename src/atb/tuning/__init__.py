"""Hyper-parameter search (`atb tune`): Optuna studies in their own storage, trials that read the validation split
only, local worker processes or a Ray cluster, and the winner scored once on test against the default
configuration (DESIGN.md, "Search")."""
