"""``paddlex-interpret batch``: a job killed half-way (SIGKILL, no clean-up at all) and run again
finishes only the missing items; the sweep and the errors on the command line."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from paddlex_interpret import cli
from paddlex_interpret.batch.manifest import MANIFEST_NAME

LIME_SET = ["--set", "num_samples=24", "--set", "batch_size=24"]


def done_keys(folder):
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return []
    keys = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("type") == "item" and record.get("status") == "done":
            keys.append(record["key"])
    return keys


def test_a_killed_job_run_again_finishes_only_the_missing_items(batch_model_dir, batch_photo_dir, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["batch", "explain", str(batch_photo_dir), "--model", str(batch_model_dir), "--save-dir", str(out),
            "--no-progress", *LIME_SET]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "paddlex_interpret", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while len(done_keys(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    finished = done_keys(out)
    assert 2 <= len(finished) < 6
    assert (out / ".batch.lock").exists()  # killed: nothing was cleaned up; the stale lock is taken over
    code = cli.main(args)
    printed = capsys.readouterr().out
    assert code == 0
    assert f"{6 - len(finished)} explained, {len(finished)} already done, 0 failed" in printed
    manifest = [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]
    items = [r for r in manifest if r["type"] == "item"]
    assert len(items) == 6 and all(r["status"] == "done" for r in items)
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no temporaries, no lock


def test_batch_commands_report_errors_and_failures(batch_model_dir, batch_photo_dir, tmp_path, capsys):
    assert cli.main(["batch", "explain", str(tmp_path / "none"), "--model", str(batch_model_dir),
                     "--save-dir", str(tmp_path / "o")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["batch", "explain", str(batch_photo_dir), "--model", str(batch_model_dir),
                     "--save-dir", str(tmp_path / "o"), "--set", "num_samples"]) == 1
    assert "--set takes KEY=VALUE" in capsys.readouterr().err
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes((batch_photo_dir / "chelsea.png").read_bytes())
    (folder / "b.png").write_bytes(b"not a png")
    code = cli.main(["batch", "sweep", str(folder), "--model", str(batch_model_dir), "--save-dir",
                     str(tmp_path / "sweep"), "--methods", "lime", "--metrics", "deletion", "--no-progress",
                     "--set", "lime.num_samples=24", "--metric-set", "deletion.steps=4"])
    captured = capsys.readouterr()
    assert code == 3 and "1 images scored" in captured.out and "failed: b.png" in captured.err
    assert (tmp_path / "sweep" / "sweep.csv").read_text().count("\n") == 2
