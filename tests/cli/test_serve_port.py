"""``truecourse serve`` on a port that is taken fails fast and clearly, touching nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def test_port_in_use_exits_2_before_opening_the_store(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        db = tmp_path / "never.duckdb"
        done = subprocess.run(
            [sys.executable, "-m", "truecourse", "serve", "--port", str(port), "--db", str(db)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "--port" in done.stderr
    assert "serving on" not in done.stdout
    assert not db.exists()


def test_a_database_held_by_another_server_is_a_clear_retryable_error(tmp_path: Path) -> None:
    from conftest import free_port, start_server

    first = start_server(tmp_path)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "truecourse", "serve", "--port", str(free_port()),
             "--db", str(first.db)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    finally:
        first.stop()
    assert done.returncode == 75, done.stderr
    assert f"cannot open DuckDB database {first.db}" in done.stderr
    assert "one writing process per file" in done.stderr
