"""Rollout: run agents against repair tasks in parallel containers and record every step."""
