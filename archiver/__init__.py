"""archiver: decode, repair, split, de-duplicate and archive Chinese report submissions."""

__version__ = "0.1.0"
