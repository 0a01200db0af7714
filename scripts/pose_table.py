"""The table of docs/pose.md from evaluation folders (`onestep eval --out DIR`), one row each:

    .venv/bin/python scripts/pose_table.py "teacher, 100 NFE=runs/eval/t100" "pose-paper, 1 NFE=runs/eval/p1" ...

Columns: Total, Quality / I2V / Semantic, the object checks (presence, colour), motion direction,
camera-move accuracy and first-frame PSNR, each with its bootstrap 95% interval where it has one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = [
    ("Total", "total", 1, 1),
    ("presence", "object_presence", 3, 1),
    ("colour", "colour_acc", 3, 1),
    ("direction", "motion_direction_acc", 3, 1),
    ("camera", "camera_motion_acc", 3, 1),
    ("first frame dB", "first_frame_psnr_db", 1, 1),
]


def cell(m: dict, key: str, digits: int, scale: float) -> str:
    value, interval = m[key] * scale, m.get("intervals", {}).get(key)
    text = f"{value:.{digits}f}"
    return text + (f" ({interval[0] * scale:.{digits}f}-{interval[1] * scale:.{digits}f})" if interval else "")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("rows", nargs="+", help="LABEL=EVAL_DIR")
    args = p.parse_args()
    print(
        "| n = 256 per track | "
        + " | ".join(c[0] for c in COLUMNS[:1])
        + " | Quality / I2V / Semantic | "
        + " | ".join(c[0] for c in COLUMNS[1:])
        + " |"
    )
    print("|---" * (len(COLUMNS) + 2) + "|")
    for row in args.rows:
        label, folder = row.rsplit("=", 1)
        m = json.loads((Path(folder) / "metrics.json").read_text())
        qis = " / ".join(f"{m[k]:.1f}" for k in ("quality", "i2v", "semantic"))
        cells = [cell(m, *c[1:]) for c in COLUMNS]
        print(f"| {label} | {cells[0]} | {qis} | " + " | ".join(cells[1:]) + " |")


if __name__ == "__main__":
    main()
