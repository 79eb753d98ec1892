"""Reliability: symbolic links planted where nnlab writes (every temporary's name, the files themselves) change
no file outside the run, and leave regular files behind."""

import json
import os
import secrets
from pathlib import Path

import pytest

from helpers import ROOT, WINE

RUN_FILES = ["checkpoint.pt", "checkpoint.pt.sha256", "metrics.csv", "summary.json", "receipt.json", "config.yaml",
             "loss.png", "confusion.png"]
SWEEP_FILES = ["points.csv", "runs.csv", "summary.json"]
TOKEN = "deadbeef"


@pytest.fixture
def racing(monkeypatch, victims):
    """`racing()` arms the attacker: every write then draws TOKEN first for its temporary (then random), and a link
    to a victim appears at exactly that name right after nnlab cleared the folder's stale temporaries (the attacker
    won the race): creating the temporary must refuse it. Returns the names raced so far."""
    import nnlab.rundir.safefile as safefile

    real_token, real_cleanup = secrets.token_hex, getattr(safefile, "remove_stale_temporaries", None)
    raced, next_is_planted = [], []

    def token(n):
        return TOKEN if next_is_planted and next_is_planted.pop() else real_token(n)

    def cleanup_then_plant(folder, legacy_of=None):
        removed = real_cleanup(folder, legacy_of)
        if legacy_of is not None:
            (Path(folder) / f".{legacy_of}.{os.getpid()}-{TOKEN}.tmp").symlink_to(victim)
            raced.append(legacy_of)
            next_is_planted.append(True)
        return removed

    def arm() -> list:
        monkeypatch.setattr(secrets, "token_hex", token)
        monkeypatch.setattr(safefile, "remove_stale_temporaries", cleanup_then_plant)
        return raced

    victim = victims("race.victim")
    return arm


@pytest.fixture
def victims(tmp_path):
    """Files outside every run, and a check that none of them changed."""
    folder = tmp_path / "outside"
    folder.mkdir()

    def make(name: str) -> Path:
        path = folder / name
        path.write_bytes(f"precious {name}".encode())
        return path

    make.check = lambda: all(p.read_bytes() == f"precious {p.name}".encode() for p in folder.iterdir())
    return make


def plant(folder: Path, names: list[str], victims, final: list[str] = ()) -> list[Path]:
    """Links to victims at each name's temporaries (the old fixed one, and the one nnlab draws first) and at the
    `final` files themselves."""
    planted = []
    for name in names:
        for tmp in (f".{name}.tmp", f".{name}.{os.getpid()}-{TOKEN}.tmp"):
            (folder / tmp).symlink_to(victims(f"{tmp}.victim"))
            planted.append(folder / tmp)
    for name in final:
        (folder / name).unlink(missing_ok=True)
        (folder / name).symlink_to(victims(f"{name}.victim"))
        planted.append(folder / name)
    return planted


def regular_files_only(folder: Path) -> bool:
    """No link and no temporary left, but the raced links at TOKEN names (nnlab never writes through them)."""
    left = [p for p in Path(folder).rglob("*") if p.is_symlink() or p.name.endswith(".tmp")]
    return all(p.is_symlink() and p.name.endswith(f"-{TOKEN}.tmp") for p in left)


@pytest.mark.slow
def _no_helper(*args, **kwargs):
    raise OSError("no helper process in this test")


def test_a_resume_writes_every_run_file_without_following_a_planted_link(cli, tmp_path, victims, racing, monkeypatch):
    cli.plots = True
    monkeypatch.setattr("nnlab.views.plotter.subprocess.Popen", _no_helper)  # plots drawn here, where writes race
    run_dir = tmp_path / "run"
    cli("train", ROOT / "configs" / "wine_mlp.yaml", "train.epochs=5", "--run-dir", run_dir, "--quiet")
    planted = plant(run_dir, RUN_FILES, victims, final=["summary.json", "metrics.csv", "loss.png"])
    assert len(planted) == 19
    raced = racing()
    cli("train", "--resume", run_dir, "train.epochs=10", "--force", "--quiet")
    assert victims.check() and regular_files_only(run_dir) and len(raced) == 9  # every write raced, and lost
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == 10
    assert (run_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_writes_its_csv_without_following_a_planted_link(cli, tmp_path, victims, racing):
    run_dir = Path(cli.train_json(ROOT / "configs" / "wine_mlp.yaml", "train.epochs=5")["run_dir"])
    (run_dir / "predictions").mkdir()
    planted = plant(run_dir / "predictions", [WINE.name], victims)
    out = tmp_path / "preds"
    out.mkdir()
    planted += plant(out, ["p.csv"], victims, final=["p.csv"])
    assert len(planted) == 5
    raced = racing()
    cli("predict", run_dir, "--data", WINE, "--json")
    cli("predict", run_dir, "--data", WINE, "--out", out / "p.csv", "--force", "--json")
    assert victims.check() and regular_files_only(run_dir) and regular_files_only(out) and len(raced) == 2
    assert (out / "p.csv").read_text().startswith("class,")


def test_a_sweep_writes_its_tables_without_following_a_planted_link(cli, tmp_path, victims, racing, monkeypatch):
    import nnlab.sweep.save

    folder, planted = tmp_path / "sweep", []

    def prepared(parent, name):  # the sweep's fresh folder, as an attacker who guessed its name would prepare it
        folder.mkdir()
        planted.extend(plant(folder, SWEEP_FILES, victims, final=SWEEP_FILES))
        return folder

    monkeypatch.setattr(nnlab.sweep.save, "new_folder", prepared)
    raced = racing()
    summary = json.loads(cli("sweep", ROOT / "configs" / "wine_mlp.yaml", "--seeds", "2", "train.epochs=3",
                             "--out", cli.out, "--json").stdout)
    assert len(planted) == 9 and summary["run_dir"] == str(folder) and len(raced) == 17
    assert victims.check() and regular_files_only(folder) and (folder / "runs.csv").read_text().startswith("run_dir")


def test_a_link_planted_as_the_lock_file_is_refused_and_changes_nothing(cli, tmp_path, victims):
    run_dir = Path(cli.train_json(ROOT / "configs" / "linear_regression.yaml", "train.epochs=2")["run_dir"])
    (run_dir / ".lock").symlink_to(victims("lock.victim"))
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if not p.is_symlink()}
    result = cli("train", "--resume", run_dir, "train.epochs=4", "--force", code=2)
    assert "is a symbolic link, not nnlab's lock file" in result.stderr
    assert victims.check() and before == {p.name: p.read_bytes() for p in run_dir.iterdir() if not p.is_symlink()}
