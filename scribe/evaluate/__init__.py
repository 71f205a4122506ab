"""Measuring scribe: speech metrics now; note quality, time saved and fairness with later issues."""
