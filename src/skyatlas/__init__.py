"""skyatlas: a self-hosted inventory of cloud resources, their tags and their costs.

It speaks the SpaceONE (Cloudforet) API and the Resource Explorer API over one store.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skyatlas")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
