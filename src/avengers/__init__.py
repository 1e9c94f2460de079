"""Reproducible experiment harness for the Avengers routing recipe.

Stages (one subpackage each, data flows one way):
outcomes -> split -> embed -> cluster -> route -> vote -> evaluate -> report.

`from avengers import Router` is the Python API (avengers.api), imported on first use so that
`import avengers` stays cheap.
"""

__version__ = "0.1.0"


def _register_resolvers() -> None:
    """Resolvers the package's configs use, registered on first import of anything in `avengers`,
    so composing the configs works from any entry point (CLI, API, tests, hydra.compose)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("avengers_neutral_override_keys"):
        def neutral(*, _root_):
            from avengers.provenance import neutral_override_keys

            return neutral_override_keys(_root_)

        # conf/config.yaml: Hydra's folder-name exclude_keys, derived from provenance.RESULT_NEUTRAL_KEYS.
        OmegaConf.register_new_resolver("avengers_neutral_override_keys", neutral)


_register_resolvers()
__all__ = ["Router", "__version__"]


def __getattr__(name: str):
    if name == "Router":
        from avengers.api import Router

        return Router
    raise AttributeError(f"module 'avengers' has no attribute {name!r}")
