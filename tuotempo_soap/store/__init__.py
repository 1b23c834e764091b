"""The relational store: tables, the engine factory, migrations and repositories.

The only package that writes SQL. SQLite is the embedded default and PostgreSQL
(psycopg2) the production database; everything here works on both.
"""
