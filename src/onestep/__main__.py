"""`python -m onestep` (and `torchrun ... -m onestep distill ...`): the command line."""

from onestep.cli import main

main()
