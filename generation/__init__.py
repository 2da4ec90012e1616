"""Inversion: break a gold environment on purpose and record how, as a validated repair task."""
