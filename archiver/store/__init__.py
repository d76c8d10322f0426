"""The archive's storage: database and migrations, bulk writes, filing, the OCFL vault."""
