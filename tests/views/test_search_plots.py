"""A search's pictures: sweep.png (metric against each swept key), rungs.png (halving), lr_find.png; no pyplot."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

PNG = b"\x89PNG\r\n\x1a\n"
WINE_CFG = ROOT / "configs" / "wine_mlp.yaml"


@pytest.mark.slow
def test_a_sweep_gets_a_picture_of_each_swept_key_and_of_its_rungs(cli):
    summary = json.loads(cli("sweep", WINE_CFG, "--grid", "optimizer.lr=0.01,0.1,1", "--grid",
                             "model.activation=relu,tanh", "--seeds", "2", "train.epochs=30", "--halving",
                             "--out", cli.out, "--json").stdout)
    pngs = {p.name: p.read_bytes() for p in Path(summary["run_dir"]).glob("*.png")}
    assert set(pngs) == {"sweep.png", "rungs.png"} and all(p.startswith(PNG) and len(p) > 10_000 for p in pngs.values())
    text = cli("sweep", WINE_CFG, "--grid", "optimizer.lr=0.01,0.1", "train.epochs=5", "--out", cli.out).stdout
    assert "sweep.png" in text and "rungs.png" not in text


def test_seeds_alone_and_no_plots_draw_nothing(cli):
    seeds = json.loads(cli("train", WINE_CFG, "--seeds", "2", "train.epochs=5", "--out", cli.out, "--json").stdout)
    assert not list(Path(seeds["run_dir"]).glob("*.png"))
    bare = json.loads(cli("sweep", WINE_CFG, "--grid", "optimizer.lr=0.01,0.1", "train.epochs=5", "--out", cli.out,
                          "--json", "--no-plots").stdout)
    assert not list(Path(bare["run_dir"]).glob("*.png"))


def test_plots_draw_on_a_figure_without_pyplot(tmp_path):
    code = ("import sys; from nnlab.views.search_plots import lr_curve; "
            f"lr_curve({str(tmp_path / 'lr.png')!r}, [1e-3, 1e-2, 1e-1, 1], [1.0, 0.5, None, 2.0], 1e-2, 10, 'mse', 't'); "
            "print('matplotlib.pyplot' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False" and (tmp_path / "lr.png").read_bytes().startswith(PNG)
