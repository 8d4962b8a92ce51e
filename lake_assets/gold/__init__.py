"""The gold layer: facts, a dimension and daily KPIs over silver (and bronze card data).

- tables.py   the gold tables declared once: inputs, grain, columns; SQL in config/gold/
- build.py    the registered Spark job `gold_table`: a table's SQL over temp views of its inputs
- lineage.py  each gold column's lineage, derived from the SQL with sqlglot
- derived.py  the tables as derived tables of the layers core: job, SQL, lineage, contract
- assets: built by lake_assets/layers from derived.py's tables
"""
