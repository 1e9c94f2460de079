"""Experiment tracking: one W&B run per Hydra job, offline unless told otherwise."""
