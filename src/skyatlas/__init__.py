"""skyatlas: a self-hosted inventory of cloud resources, their tags and their costs.

It speaks the SpaceONE (Cloudforet) API and the Resource Explorer API over one store.
"""

# The single source of the version (pyproject.toml reads it). A literal rather than
# importlib.metadata, which costs ~40 ms at every CLI start.
__version__ = "0.1.0"

__all__ = ["__version__"]
