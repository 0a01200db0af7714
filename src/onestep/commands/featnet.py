"""`onestep featnet`: train the feature network of the distribution distances and save it."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from onestep.configs.base import to_dict
from onestep.errors import UserError
from onestep.eval.features import FeatnetConfig, FeatureNet, train_featnet

KIND = "featnet"


def save(net: FeatureNet, cfg: FeatnetConfig, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / "model.safetensors.partial"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
    tmp.replace(directory / "model.safetensors")
    (directory / "config.json").write_text(json.dumps({"kind": KIND, **to_dict(cfg)}, indent=2) + "\n")


def load(directory: Path) -> FeatureNet:
    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise UserError(
            f"{directory} has no config.json: rebuild the feature network with `onestep featnet --out {directory}`"
        )
    config = json.loads(config_path.read_text())
    if config.get("kind") != KIND:
        raise UserError(
            f"{directory} is a {config.get('kind')!r} directory, not a feature network: pass assets/featnet"
        )
    net = FeatureNet(config["dim"])
    net.load_state_dict(load_file(str(directory / "model.safetensors")))
    return net.eval().requires_grad_(False)


def run(*, out: Path, steps: int, seed: int) -> Path:
    if steps < 1:
        raise UserError(f"--steps {steps}: use 1 or more training steps")
    if Path(out).is_file():
        raise UserError(f"--out {out} is a file: pass a folder for the feature network")
    from rich.progress import Progress

    cfg = FeatnetConfig(steps=steps, seed=seed)
    with Progress() as bar:
        task = bar.add_task("featnet", total=steps)
        net = train_featnet(
            cfg,
            progress=lambda step, loss: bar.update(task, completed=step + 1, description=f"featnet loss {loss:.3f}"),
        )
    save(net, cfg, out)
    return out
