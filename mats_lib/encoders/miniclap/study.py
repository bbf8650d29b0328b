"""``python -m mats_lib.encoders.miniclap.study``: moved to :mod:`mats_lib.study.miniclap_study`; the command lives in
:mod:`mats_lib.cli.miniclap_study`."""
if __name__ == "__main__":
    from ...cli.miniclap_study import main

    main()
