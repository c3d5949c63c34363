"""SQLite over TCP: a real server for the seed's `socat ... EXEC:sqlite3` technique.

    squall sqlite serve --db app.db --port 12345     # or python -m squall.sqlite.server
    telnet localhost 12345                          # sqlite> select * from t1;
    squall sqlite shell localhost:12345             # the same, with line editing

    import squall.sqlite
    with squall.sqlite.connect("127.0.0.1", 12345) as db:
        db.execute("INSERT INTO t1 VALUES (?)", ["x"])

This package uses only the standard library (its command line aside), so the server
runs in any container that has python3.
"""

from squall.sqlite.client import Connection, Result, connect
from squall.sqlite.config import ServerConfig
from squall.sqlite.server import SqliteServer, serve

__all__ = ["Connection", "Result", "ServerConfig", "SqliteServer", "connect", "serve"]
