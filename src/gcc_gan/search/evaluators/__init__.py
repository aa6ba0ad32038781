"""Evaluators: how a candidate architecture is trained and scored (standalone: on its own)."""
