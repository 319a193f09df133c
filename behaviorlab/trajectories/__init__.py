"""Trajectories: identity tracking, cleaning, kinematics and static landmarks."""
