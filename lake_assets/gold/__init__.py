"""The gold layer: facts, a dimension and daily KPIs over silver (and bronze card data).

- tables.py   the gold tables declared once: inputs, grain, columns; SQL in config/gold/
- build.py    the registered Spark job `gold_table`: a table's SQL over temp views of its inputs
- lineage.py  each gold column's lineage, derived from the SQL with sqlglot
- schema.py   the declared schema checked on what a build wrote
- assets.py   gold/<table> assets on the derived-layer core
"""
