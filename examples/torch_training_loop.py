"""A plain PyTorch training loop under mlops-guard's checkpoint monitor.

Run it (needs the optional extra: ``pip install 'mlops-guard[torch]'``)::

    python examples/torch_training_loop.py --steps 300 --checkpoint-every 50 --out ./ckpt

It trains a small classifier on synthetic data, saves a checkpoint every N steps with
``torch.save`` inside ``mon.checkpoint(...)``, and prints the monitor's status as JSON. The same
three calls (``with mon``, ``mon.step()``, ``with mon.checkpoint(step)``) fit any loop.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mlops_guard.monitors import CheckpointMonitor, MonitorStatus


def train(
    out_dir: Path,
    *,
    steps: int = 300,
    checkpoint_every: int = 50,
    batch_size: int = 64,
    seed: int = 0,
    monitor: CheckpointMonitor | None = None,
) -> MonitorStatus:
    """Train under the monitor; returns its final status."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    features = 16
    true_weights = torch.randn(features)
    model = nn.Sequential(nn.Linear(features, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.BCEWithLogitsLoss()
    out_dir.mkdir(parents=True, exist_ok=True)

    mon = monitor or CheckpointMonitor(job="train", model="churn")
    with mon:
        for step in range(1, steps + 1):
            x = torch.randn(batch_size, features)
            y = (x @ true_weights > 0).float().unsqueeze(1)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            mon.step()  # heartbeat: one step done
            if step % checkpoint_every == 0:
                path = out_dir / f"step-{step:06d}.pt"
                with mon.checkpoint(step) as save:  # times the save
                    state: dict[str, Any] = {
                        "step": step,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "loss": float(loss.item()),
                    }
                    torch.save(state, path)
                    save.nbytes = path.stat().st_size
    return mon.status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("checkpoints"))
    args = parser.parse_args(argv)
    status = train(args.out, steps=args.steps, checkpoint_every=args.checkpoint_every)
    print(json.dumps(status.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
