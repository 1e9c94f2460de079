"""Answers: per-benchmark extract -> normalise pipelines, shared by grading and voting."""
