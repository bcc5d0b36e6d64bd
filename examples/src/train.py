"""A stand-in training script: prints its progress and writes a model file into the output folder."""

import argparse
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

loss = 1.0
for epoch in range(1, args.epochs + 1):
    loss /= 2
    print(f"epoch {epoch}: loss {loss:.4f}", flush=True)

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
(out / "model.json").write_text(json.dumps({"epochs": args.epochs, "loss": loss}))
print(f"wrote {out / 'model.json'}", flush=True)
