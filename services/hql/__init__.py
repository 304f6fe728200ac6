"""HQL engines: one HQL file set (hive/hql), three executors (DuckDB, Spark with Hive support,
HiveServer2). Pick one with :func:`services.hql.factory.open_engine`."""

from services.hql.base import HqlEngine, HqlError
from services.hql.script import HqlStatement, load_script, split_statements

__all__ = ["HqlEngine", "HqlError", "HqlStatement", "load_script", "split_statements"]
