#!/usr/bin/env bash
# Create the test and live databases the compose file mounts (default /tmp/sqlitedbs).
set -euo pipefail
dir=${SQLITE_DBS:-/tmp/sqlitedbs}
rm -rf "$dir"
mkdir -p "$dir"
sqlite3 "$dir/test" "create table t1(c1 text); insert into t1 values ('test');"
sqlite3 "$dir/live" "create table t1(c1 text); insert into t1 values ('live');"
echo "created $dir/test and $dir/live"
