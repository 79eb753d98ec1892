"""nnlab: train small neural networks described in YAML files."""

__version__ = "0.1.0"
