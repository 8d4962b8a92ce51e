"""`lake demo`: a small bank's deliveries through the real pipeline (demo.py), over sample data
generated for it (demo_data.py); cli.py registers the command."""
