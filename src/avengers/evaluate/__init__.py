"""Stage 5: score every router on the same test queries; write metrics.json and predictions.parquet."""
