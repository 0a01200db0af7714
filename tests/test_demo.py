"""`onestep demo`'s first screen: one paragraph that sets the one-step student against the teacher."""

import json
import shutil

from onestep.commands import demo, report
from tests.test_report import runs  # noqa: F401  (two real evaluations of a tiny student)


def metrics(total, lo, hi, camera, t2v=(40.0, 39.0, 41.0), crisp=0.5):
    return {
        "total": total, "total/t2v": t2v[0], "intervals": {"total": [lo, hi], "total/t2v": list(t2v[1:])},
        "camera_motion_acc": camera, "t2v_object_crisp": crisp, "n": 256,
    }  # fmt: skip


def test_the_summary_says_what_the_demo_showed():
    evals = {
        "student-nfe1": metrics(51.5, 50.9, 52.1, 0.70, (45.0, 44.0, 46.0), 0.8),
        "teacher-nfe1": metrics(39.7, 39.1, 40.4, 0.51, (30.0, 29.0, 31.0), 0.05),
        "teacher-nfe100": metrics(51.6, 50.8, 52.3, 0.78, (50.0, 49.0, 51.0), 0.95),
        "bundled-student-nfe1": metrics(52.6, 51.9, 53.3, 0.785),
    }
    config = {"phases": [{"steps": 200}, {"steps": 40}]}
    bundled = {"preset": "pose-paper", "trained_steps": 1400}
    text = demo.summarise(evals, {"speedup": 104.2}, "pose-demo", 5.24, config, bundled)
    assert "`pose-demo` (240 training steps, 5.2 minutes here)" in text
    assert (
        "(ground truth 100), the student in one step scores Total 51.5 [50.9, 52.1]; the teacher scores 39.7 [39.1, "
        "40.4] in one step (above it, intervals apart)" in text
    )
    assert (
        "and 51.6 [50.8, 52.3] in 100 steps (intervals overlapping)" in text and "%" not in text.split("Camera")[0]
    )  # no ratio to the teacher
    assert (
        "student 45.0 [44.0, 46.0], teacher 30.0 [29.0, 31.0] in one step and 50.0 [49.0, 51.0] in 100" in text
        and "crisp objects 0.80 against 0.05 and 0.95" in text
    )
    assert "Camera moves: 70% (teacher 51% in one step, 78% in 100)" in text
    assert (
        "104x faster" in text
        and "bundled `pose-paper` student (1,400 training steps" in text
        and "52.6 [51.9, 53.3]" in text
    )
    evals["student-nfe1"] = metrics(40.0, 39.3, 40.7, 0.60)
    assert "(intervals overlapping)" in demo.summarise(evals, {"speedup": 104.2}, "pose-demo", 5.24, config, bundled)


def test_the_report_opens_with_the_summary_and_the_demo_names(runs, tmp_path):
    """The summary stands under the title of both pages, and a run's "name" replaces its folder's."""
    report_runs = runs
    named = tmp_path / "named"
    shutil.copytree(report_runs[0], named)
    m = json.loads((named / "metrics.json").read_text())
    m["name"] = "bundled student (shipped evaluation)"
    (named / "metrics.json").write_text(json.dumps(m))
    md, page = report.run(
        [named, report_runs[1]], tmp_path / "report", "demo", summary="The demo distilled with `pose-demo` <fast>."
    )
    text = md.read_text()
    assert text.startswith("# demo\n\nThe demo distilled with `pose-demo` <fast>.\n")
    assert "| bundled student (shipped evaluation) @ NFE 1 |" in text and "| student @ NFE 2 |" in text
    assert '<p class="summary">The demo distilled with <code>pose-demo</code> &lt;fast&gt;.</p>' in page.read_text()
