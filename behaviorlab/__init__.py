"""behaviorlab: from animal video to poses, behaviors and statistics in one package.

Importing the package only defines names: heavy stacks (Keras, UMAP,
Streamlit) are imported by the functions that use them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("behaviorlab")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from behaviorlab.errors import BehaviorlabError, FileFormatError, SchemaError, VideoError
from behaviorlab.schema import Skeleton, as_poses, from_numpy, validate_poses

__all__ = [
    "BehaviorlabError",
    "FileFormatError",
    "SchemaError",
    "Skeleton",
    "VideoError",
    "__version__",
    "as_poses",
    "from_numpy",
    "validate_poses",
]
