"""`onestep report`: two real eval outputs -> report.md and a self-contained report.html that renders."""

import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from onestep import paths
from onestep.cli import app
from onestep.commands import report
from onestep.errors import UserError
from onestep.eval import suite
from onestep.models.io import save_model
from onestep.models.video_dit import DiTConfig, VideoDiT

runner = CliRunner()
TITLE = "NFE <sweep> & co"


def invoke(*args):
    r = runner.invoke(app, [str(a) for a in args])
    return r.exit_code, r.output + (str(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else "")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny random student evaluated at NFE 1 and NFE 2: the same clips and seeds, two rows."""
    root = tmp_path_factory.mktemp("report")
    torch.manual_seed(0)
    save_model(
        root / "student",
        VideoDiT(DiTConfig(dim=32, depth=1, heads=2, patch=(2, 4, 4))),
        {"role": "student", "sampling": {"kind": "renoise", "steps": 1, "shift": 3.0}},
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(suite, "ANCHOR_CLIPS", 4)
        mp.setattr(suite, "BOOTSTRAP", 20)
        mp.setattr(suite, "DIVERSITY_CONDITIONS", 2)
        mp.setattr(suite, "DIVERSITY_SEEDS", 2)
        mp.setattr(paths, "CACHE", root / "cache")
        for nfe in (1, 2):
            code, text = invoke(
                "eval", "--model", root / "student", "--nfe", nfe, "--n", 3, "--out", root / f"nfe{nfe}", "--json"
            )
            assert code == 0, text
    return [root / "nfe1", root / "nfe2"]


@pytest.fixture(scope="module")
def built(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "report"
    code, text = invoke("report", *runs, "--out", out, "--title", TITLE)
    assert code == 0, text
    return out


def test_markdown_tables_plots_and_videos(built):
    md = (built / "report.md").read_text()
    assert "| run | role | Total | Quality | I2V |" in md
    assert "| student @ NFE 1 | student |" in md and "| student @ NFE 2 | student |" in md
    assert "## shapes" in md and "## t2v" in md and "## photocam" in md and "| subject_consistency[hist] |" in md
    assert md.index("](contact_sheet.png)") < md.index("## Headlines") and (
        built / "contact_sheet.png"
    ).read_bytes().startswith(b"\x89PNG")
    assert "| fd[featnet] |" in md and "data floor" in md
    for name in ("quality_vs_nfe.png", "latency.png"):
        assert f"]({name})" in md and (built / name).read_bytes().startswith(b"\x89PNG")
    gifs = re.findall(r"\]\((videos/[^)]+\.gif)\)", md)
    assert "videos/shapes-00-gt.gif" in gifs and "videos/photocam-02-run1.gif" in gifs
    assert len(gifs) == 3 * 3 * 3  # tracks x clips x (ground truth + 2 runs)
    with Image.open(built / "videos" / "shapes-00-run0.gif") as g:
        assert g.size == (128, 128) and g.n_frames > 1 and g.info.get("loop") == 0
    assert not list(built.rglob("*.partial"))


def test_html_is_self_contained_and_escaped(built):
    page = (built / "report.html").read_text()
    assert 'src="http' not in page and 'href="http' not in page and "<link" not in page and "<script" not in page
    assert "data:image/gif;base64," in page and "data:image/png;base64," in page
    assert page.count("data:image/gif;base64,") == 3 * 3 * 3
    assert page.index("Contact sheet") < page.index("<h2>Headlines</h2>")
    assert "<title>NFE &lt;sweep&gt; &amp; co</title>" in page and TITLE not in page
    assert "ground truth" in page and "student @ NFE 2" in page


@pytest.mark.parametrize(
    "make, message", [(lambda d: None, "does not exist"), (lambda d: d.mkdir(), "has no metrics.json")]
)
def test_bad_run_directory(runs, tmp_path, make, message):
    bad = tmp_path / "run"
    make(bad)
    with pytest.raises(UserError, match=message):
        report.run([runs[0], bad], tmp_path / "out", "t")
    assert not (tmp_path / "out").exists()
    code, text = invoke("report", bad, "--out", tmp_path / "out")
    assert code != 0 and message in text


def test_page_renders_in_chromium(built, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    shot = tmp_path / "shot.png"
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        (built / "report.html").resolve().as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("L"), dtype=np.float32)
    assert pixels.shape == (2000, 1200)
    assert pixels.std() > 20, f"the page looks blank (pixel std {pixels.std():.1f})"
