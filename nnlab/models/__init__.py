"""Model kinds: one file each, registered by name. Importing this package never imports torch."""

import importlib
import pkgutil

from nnlab.models.base import REGISTRY, ModelSpec, register

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "ModelSpec", "register"]
