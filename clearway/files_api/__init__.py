"""The file server surface (``/files``): a thin translation onto :mod:`clearway.domain.blobs`."""
