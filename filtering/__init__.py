"""Filtering: keep the trajectories that really repaired the environment, and say why others were dropped."""
