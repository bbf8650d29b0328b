"""The command-line entry points, thin: each parses its arguments and calls the library or the study layer.

``python -m mats_lib.cli.<name>``; the commands documented before this package (``python -m mats_lib.train``,
``mats_lib.evaluate``, ``mats_lib.check``, ``mats_lib.steps``, ``mats_lib.data.build``, the MiniCLAP and analysis
commands) still work: their modules hand over to the command here. No module outside this package parses
arguments.
"""
