"""Models adapted to the Denoiser border: the built-in video DiT, text encoders, model directories."""
