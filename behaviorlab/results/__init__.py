"""Results: statistics, scores, group comparisons, the results store, exports and figures."""
