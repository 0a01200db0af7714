"""Distribution applied from outside (STYLE.md 11): the process group torchrun starts, and FSDP2 per
role. No model, method or the trainer's step knows of it."""
