"""Pure stages over typed records: read one file, return what it holds."""
