"""Training: checkpoints, EMA, data streams and loops."""
