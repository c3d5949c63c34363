#!/usr/bin/env bash
# Create the test and live databases the compose file mounts (default /tmp/sqlitedbs):
# one directory each, holding the database file `db` (SQLite's -wal and -shm files will
# sit beside it). Needs only python3.
set -euo pipefail
dir=${SQLITE_DBS:-/tmp/sqlitedbs}
rm -rf "$dir"
for name in test live; do
    mkdir -p "$dir/$name"
    python3 - "$dir/$name/db" "$name" <<'PY'
import sqlite3
import sys

path, value = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(path)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("CREATE TABLE t1(c1 text)")
conn.execute("INSERT INTO t1 VALUES (?)", (value,))
conn.commit()
conn.close()
PY
done
echo "created $dir/test/db and $dir/live/db"
