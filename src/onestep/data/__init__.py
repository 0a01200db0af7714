"""Data steps: what a run reads (world batches, a latent cache) and what is made from the teacher once
and kept on disk (the ODE pairs)."""
