"""``python -m mats_lib.encoders.miniclap.frontier``: moved to :mod:`mats_lib.study.miniclap_frontier`; the command lives in
:mod:`mats_lib.cli.miniclap_frontier`."""
if __name__ == "__main__":
    from ...cli.miniclap_frontier import main

    main()
