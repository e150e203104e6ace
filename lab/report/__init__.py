"""Reports read only results files: they never run anything."""
