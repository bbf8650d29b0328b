"""``python -m mats_lib.evaluate``: the evaluation command, which lives in :mod:`mats_lib.cli.evaluate`."""
from .cli.evaluate import main

if __name__ == "__main__":
    main()
