"""Collect stage: generate answers from candidate models on the benchmarks and grade them into outcomes."""
