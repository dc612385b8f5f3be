"""Offline numerics: file formats, normalization, the two models, training, conversion, signatures.

Pure Python, numpy and torch. Never imports Django.
"""
