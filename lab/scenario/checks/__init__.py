"""Reading a scenario file's tables into `model` objects, one module per kind of table.

`checker.Checker` collects every problem of one file with its line; `scenario.read_scenario` walks the file's top
table and hands each part to its module: origins, backend (routes, blueprints, hooks), cases and claims.
"""
