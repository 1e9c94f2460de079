"""Reproducible experiment harness for the Avengers routing recipe.

Stages (one subpackage each, data flows one way):
outcomes -> split -> embed -> cluster -> route -> vote -> evaluate -> report.
"""

__version__ = "0.1.0"
