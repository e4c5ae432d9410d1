"""`make proof`: the standing reliability proof (issue 12), run by CI; see `__main__`."""
