"""``python -m mats_lib.encoders.miniclap.training``: the heads are fitted by :mod:`mats_lib.encoders.miniclap.fit`; the
command lives in :mod:`mats_lib.cli.miniclap_heads`."""
if __name__ == "__main__":
    from ...cli.miniclap_heads import main

    main()
