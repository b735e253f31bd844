#!/usr/bin/env bash
# Resume the default model's training on a lent GPU machine (the `device` tool) and send the new
# state back. Three steps, each tested on a CPU here (RUN, OUT and DEVICE can be set for that):
#
# 1. Here, make the working tree fit the 64 MiB the tool sends (the embedded models are not needed
#    for training; the carried state and the prepared data are):
#        mv uncanny/weights /tmp/uncanny-weights-aside
# 2. The call (tool `run`, carry ["data/celeba64"], timeout_s 600 with MINUTES at most 8):
#        bash scripts/device_train.sh 8
#    The machine has no network; its python3 holds torch, numpy, pillow, safetensors, tqdm and
#    matplotlib (dlib is not needed for training).
# 3. Here, put the weights back and the state where the next session finds it, then commit:
#        mv /tmp/uncanny-weights-aside uncanny/weights
#        bash scripts/device_train.sh --join FILES_AT     # FILES_AT: the folder the tool names
#
# On the machine: unpack the committed state (training/faces64v2) into $RUN, train for the given
# minutes with the run's own recipe (bf16 autocast where the GPU supports it), pack the state
# (float16 weights, log, samples), and send it back as a tar split into 15 MiB parts (the tool
# returns at most 8 files of 16 MiB each), with the tar's SHA-256. --join checks the joined parts
# against it and only then replaces training/faces64v2.
set -euo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=$(command -v python3 || command -v python)
CARRY=${CARRY:-training/faces64v2}

if [[ "${1:-}" == "--join" ]]; then
  FROM=${2:?usage: device_train.sh --join FOLDER_WITH_PARTS}
  ls "$FROM"/faces64v2.tar.part-* >/dev/null
  tmp=$(mktemp -d)
  cat "$FROM"/faces64v2.tar.part-* > "$tmp/state.tar"
  # a truncated or padded transfer fails here, before anything is replaced
  (cd "$tmp" && sha256sum -c --quiet <(sed 's|  .*|  state.tar|' "$FROM/faces64v2.tar.sha256"))
  tar -xf "$tmp/state.tar" -C "$tmp"
  "$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$tmp/faces64v2/run.json"
  rm -rf "$CARRY.old" && mv "$CARRY" "$CARRY.old" && mv "$tmp/faces64v2" "$CARRY" && rm -rf "$CARRY.old" "$tmp"
  echo "joined into $CARRY: $(tail -1 "$CARRY/log.csv")"
  exit 0
fi

MINUTES=${1:-8}
RUN=${RUN:-runs/faces64v2}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/out}
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
"$PY" scripts/carry_run.py unpack "$CARRY" "$RUN"
"$PY" -m uncanny train data/celeba64 --out "$RUN" --resume --minutes "$MINUTES" --device "$DEVICE"
pack=$(mktemp -d)
"$PY" scripts/carry_run.py pack "$RUN" "$pack/faces64v2"
mkdir -p "$OUT"
tar -C "$pack" -cf "$pack/faces64v2.tar" faces64v2
(cd "$pack" && sha256sum faces64v2.tar) > "$OUT/faces64v2.tar.sha256"
split -b 15m -d "$pack/faces64v2.tar" "$OUT/faces64v2.tar.part-"
ls -l "$OUT"
tail -1 "$RUN/log.csv"
