"""`onestep demo`'s first screen: one paragraph that sets the one-step student against the teacher."""

import json
import shutil

from onestep.commands import demo, report
from tests.test_report import runs  # noqa: F401  (two real evaluations of a tiny student)


def metrics(total, lo, hi, camera):
    return {"total": total, "intervals": {"total": [lo, hi]}, "camera_motion_acc": camera, "n": 256}


def test_the_summary_says_what_the_demo_showed():
    evals = {
        "student-nfe1": metrics(51.5, 50.9, 52.1, 0.70), "teacher-nfe1": metrics(49.7, 49.1, 50.4, 0.51),
        "teacher-nfe100": metrics(51.6, 50.8, 52.3, 0.78), "bundled-student-nfe1": metrics(52.6, 51.9, 53.3, 0.785),
    }
    config = {"phases": [{"steps": 200}, {"steps": 40}]}
    bundled = {"preset": "pose-paper", "trained_steps": 1400}
    text = demo.summarise(evals, {"speedup": 104.2}, "pose-demo", 5.24, config, bundled)
    assert "`pose-demo` (240 training steps, 5.2 minutes here)" in text
    assert "Total 51.5 [50.9, 52.1], against the teacher's 49.7 [49.1, 50.4] in one step (intervals apart) and 51.6 [50.8, 52.3] in 100 steps (100% of it)" in text
    assert "camera move in 70% of the photocam clips (teacher: 51% in one step, 78% in 100)" in text
    assert "104x faster" in text and "bundled `pose-paper` student (1,400 training steps" in text and "52.6 [51.9, 53.3]" in text
    evals["student-nfe1"] = metrics(50.0, 49.3, 50.7, 0.60)
    assert "(intervals overlapping)" in demo.summarise(evals, {"speedup": 104.2}, "pose-demo", 5.24, config, bundled)


def test_the_report_opens_with_the_summary_and_the_demo_names(runs, tmp_path):
    """The summary stands under the title of both pages, and a run's "name" replaces its folder's."""
    report_runs = runs
    named = tmp_path / "named"
    shutil.copytree(report_runs[0], named)
    m = json.loads((named / "metrics.json").read_text())
    m["name"] = "bundled student (shipped evaluation)"
    (named / "metrics.json").write_text(json.dumps(m))
    md, page = report.run([named, report_runs[1]], tmp_path / "report", "demo", summary="The demo distilled with `pose-demo` <fast>.")
    text = md.read_text()
    assert text.startswith("# demo\n\nThe demo distilled with `pose-demo` <fast>.\n")
    assert "| bundled student (shipped evaluation) @ NFE 1 |" in text and "| student @ NFE 2 |" in text
    assert '<p class="summary">The demo distilled with <code>pose-demo</code> &lt;fast&gt;.</p>' in page.read_text()
