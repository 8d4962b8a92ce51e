"""Cost attribution (issue 16): the AWS Cost and Usage Report as a source of the lake, the
drivers each run consumed, a declared allocation per cost category, and a monthly ledger that
reconciles to the bill. model.py holds the shapes every part shares."""
