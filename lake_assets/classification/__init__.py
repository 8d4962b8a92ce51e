"""Column classification (issue 12): each curated column's semantic type and sensitivity, with
a confidence and the evidence behind it, written back to the catalog and kept current.

- model.py: a classification (ranked candidates, confidence, evidence, who decided).
"""
