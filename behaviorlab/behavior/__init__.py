"""Behavior: maps, HMM ethograms, supervised classifiers and bouts."""
