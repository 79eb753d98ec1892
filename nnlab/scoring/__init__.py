"""Scoring a trained model: final metrics per split, and the baselines a skeptical user would check."""
