"""`lake`: the project's command line. Everything the daemon does can be done from here."""
