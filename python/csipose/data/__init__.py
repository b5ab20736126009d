"""Datasets: MM-Fi (the real data users bring) and the synthetic generator."""
