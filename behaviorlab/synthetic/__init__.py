"""Synthetic data: a seeded generator of rendered mice with ground-truth poses and behaviors."""
