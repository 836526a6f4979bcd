"""judgebench's version, apart from the package's ``__init__`` so that low modules (the parse cache's key) can read
it without importing the public API's modules."""

__version__ = "0.1.0"
