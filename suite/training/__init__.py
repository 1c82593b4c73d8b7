"""Layer 3: training and measuring during training — the trainer, per-step gradient measurement, paired timing."""
