"""Cold storage: raw objects the bucket's lifecycle moved to an archive class, found before a
job reads them and brought back by `lake restore`."""
