#!/usr/bin/env bash
# Resume the default model's training on a lent GPU machine (the `device` tool) and send the new
# state back. Run from the repository root there, carrying the prepared data set:
#
#   device run --carry data/celeba64 -- bash scripts/device_train.sh 8     # minutes of training
#
# then, back here: copy $OUT/faces64v2 over training/faces64v2 and commit it. The machine has no
# network: it needs torch, numpy, pillow, safetensors and tqdm already installed (dlib is not
# needed for training). Steps: unpack the committed state (training/faces64v2) into runs/, train
# for the given minutes with the run's own recipe (bf16 autocast where the GPU supports it),
# pack the state (float16 weights, log, samples) into $OUT.
set -euo pipefail
MINUTES=${1:-8}
RUN=runs/faces64v2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python scripts/carry_run.py unpack training/faces64v2 "$RUN"
python -m uncanny train data/celeba64 --out "$RUN" --resume --minutes "$MINUTES" --device cuda
python scripts/carry_run.py pack "$RUN" "${OUT:-/tmp/out}/faces64v2"
