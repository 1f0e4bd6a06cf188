"""Synthetic data with known truth: :func:`simulate` residents and missing-person reports."""

from kinmatch.datasets.simulate import Simulation, simulate

__all__ = ["simulate", "Simulation"]
