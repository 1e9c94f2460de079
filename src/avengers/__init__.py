"""Reproducible experiment harness for the Avengers routing recipe.

Stages (one subpackage each, data flows one way):
outcomes -> split -> embed -> cluster -> route -> vote -> evaluate -> report.

`from avengers import Router` is the Python API (avengers.api), imported on first use so that
`import avengers` stays cheap.
"""

__version__ = "0.1.0"
__all__ = ["Router", "__version__"]


def __getattr__(name: str):
    if name == "Router":
        from avengers.api import Router

        return Router
    raise AttributeError(f"module 'avengers' has no attribute {name!r}")
