"""Labeling: frames to label, label editing and the refinement loop."""
