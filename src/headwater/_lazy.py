"""Lazy re-exports for a package's ``__init__`` (PEP 562 ``__getattr__``).

A package's ``__init__`` runs whenever any module under it is imported. Had
``headwater/__init__.py`` imported its public face eagerly, ``import headwater.eventstore``
would load FastAPI and every feature package, and the top-level re-exports would close
import cycles between layers. So a package lists its upper-layer names in a
name -> module table; a name's module is imported the first time the name is read.
The ``TYPE_CHECKING`` imports beside each table give mypy the same names with their
types; ``tests/test_public_api.py`` checks that the two agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any


def load(package: str, table: Mapping[str, str], name: str) -> Any:
    """The value of ``package.name``, importing the module the table names for it."""
    module_name = table.get(name)
    if module_name is None:
        # An AttributeError, not a KeyError: ``from package import submodule`` and
        # ``hasattr`` rely on it to fall back to the import system.
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    # Kept on the package, so later reads are plain attribute reads.
    setattr(sys.modules[package], name, value)
    return value


def names(package: str, table: Mapping[str, str]) -> list[str]:
    """``dir(package)``: what is loaded already and what the table can load."""
    return sorted({*vars(sys.modules[package]), *table})
