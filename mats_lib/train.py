"""``python -m mats_lib.train``: the training command, which lives in :mod:`mats_lib.cli.train`."""
from .cli.train import main

if __name__ == "__main__":
    main()
