"""Autograd made visible: the expression language of `nnlab grad`, derivatives, backward graphs, gradient checks.

Importing this package never imports torch; the functions that compute import it themselves.
"""
