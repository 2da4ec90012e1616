"""Training: supervised fine-tuning on repair trajectories with TRL."""
