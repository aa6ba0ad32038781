"""The package version: a leaf module, so the layers that stamp it into their outputs
(compiler, export, bench, runtime) import it without importing the package root."""

__version__ = "0.1.0"
