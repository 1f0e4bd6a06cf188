"""Matching: candidates -> comparisons -> probabilistic model -> ranking and explanations."""
