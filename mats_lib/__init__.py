"""mats_lib: a thin library for reproducing MATS (audio language modelling under text-only supervision)."""
__version__ = "0.1.0"
