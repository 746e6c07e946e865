#!/bin/sh
# The annotation web app on the bundled digits pool: build hitl (Release), make a store whose
# items show each digit as a PNG image (from datasets/digits.h5, in build/serve-demo/media),
# queue the 200 items the model is least sure of plus 40 drawn blind, add two annotators, a
# reviewer and an admin, print their tokens and the URL, and serve in the foreground (Ctrl-C
# stops it). Each run starts a new store.
#
#   tools/serve-demo.sh [--fashion] [--listen ADDR:PORT]
#
# --fashion: Fashion-MNIST clothing images instead of digits (Debian's dataset-fashion-mnist,
# installed when missing): its 10,000 test images, a linear head trained on 300 of them.
# --listen defaults to 127.0.0.1:8080; on another machine, tunnel it (ssh -L 8080:127.0.0.1:8080)
# rather than listening on a public address without --tls-cert/--tls-key.
set -eu
cd "$(dirname "$0")/.."
. tools/deps.sh

data=digits
listen=127.0.0.1:8080
while [ $# -gt 0 ]; do
    case "$1" in
        --fashion) data=fashion ;;
        --listen) [ $# -ge 2 ] || { echo "serve-demo: --listen needs ADDR:PORT" >&2; exit 2; }
                  listen=$2; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "serve-demo: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

hitl_install_deps
if [ "$data" = fashion ]; then hitl_install_deps $HITL_DATA_PACKAGES; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target hitl >/dev/null

hitl=build/cli/hitl
dir=build/serve-demo
db=$dir/demo.db
py=/usr/bin/python3
rm -rf "$dir"
mkdir -p "$dir/media"

# Step "payloads": JSON lines naming an image per pool row. Step "png": a PNG file for each item
# queued in the store, from the pool's pixels (zlib + struct: no imaging library needed).
cat >"$dir/images.py" <<'PY'
import json, os, sqlite3, struct, sys, zlib
import h5py
import numpy as np

step, kind, pool, out = sys.argv[1:5]
with h5py.File(pool, "r") as f:
    n = f["features"].shape[0]
    ids = ([v.decode() if isinstance(v, bytes) else str(v) for v in f["ids"][:]]
           if "ids" in f else [str(i) for i in range(n)])

if step == "payloads":
    question, source = {
        "digits": ("Which digit is this?", "UCI handwritten digits, test set row {} (8 x 8 pixels)"),
        "fashion": ("What is this piece of clothing?", "Fashion-MNIST, test image {} (28 x 28 pixels)"),
    }[kind]
    with open(out, "w") as f:
        for i, pid in enumerate(ids):
            f.write(json.dumps({"id": pid, "image": f"{kind}/{pid}.png", "question": question,
                                "source": source.format(i)}) + "\n")
    sys.exit(0)


def png(path, gray, scale):
    img = np.kron(gray, np.ones((scale, scale), np.uint8))
    raw = b"".join(b"\x00" + row.tobytes() for row in img)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", img.shape[1], img.shape[0], 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


con = sqlite3.connect(f"file:{sys.argv[5]}?mode=ro", uri=True)
queued = [r[0] for r in con.execute("SELECT pool_id FROM items")]
con.close()
row = {pid: i for i, pid in enumerate(ids)}
os.makedirs(os.path.join(out, kind), exist_ok=True)
with h5py.File(pool, "r") as f:
    x = f["features"]
    side = int(round(x.shape[1] ** 0.5))
    for pid in queued:
        v = np.clip(x[row[pid]].reshape(side, side), 0, 1) * 255
        if kind == "digits":  # ink counts: dark ink on white paper
            v = 255 - v
        png(os.path.join(out, kind, pid + ".png"), v.round().astype(np.uint8), 224 // side)
PY

if [ "$data" = digits ]; then
    pool=datasets/digits.h5
    "$py" "$dir/images.py" payloads digits "$pool" "$dir/items.jsonl"
    "$hitl" init "$db" --classes 0,1,2,3,4,5,6,7,8,9 --overlap 2 \
        --actor demo >/dev/null
    "$hitl" queue "$db" --from "$pool" --probs probs --ids ids --method margin --top-k 200 \
        --blind 40 --seed 7 --batch digits-1 --data "$dir/items.jsonl" >/dev/null
else
    src=${HITL_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
    pool=$dir/fashion.h5
    "$hitl" convert --images "$src/t10k-images-idx3-ubyte.gz" \
        --labels "$src/t10k-labels-idx1-ubyte.gz" --classes fashion-mnist --out "$pool" >/dev/null
    # a head from 300 labelled images (30 a class, fixed seed), so the queue has real uncertainty
    "$py" - "$pool" "$dir/rows.npy" <<'PY'
import sys
import h5py
import numpy as np
with h5py.File(sys.argv[1], "r") as f:
    y = f["labels"][:]
rng = np.random.default_rng(7)
rows = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), 30, replace=False)
                               for c in np.unique(y)])).astype(np.int64)
np.save(sys.argv[2], rows)
PY
    "$hitl" train --features "$pool:features" --labels "$pool:labels" --rows "$dir/rows.npy" \
        --out "$dir/head.h5" >/dev/null
    "$py" "$dir/images.py" payloads fashion "$pool" "$dir/items.jsonl"
    classes=$("$py" -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r"); print(",".join(c.decode() if isinstance(c, bytes) else str(c) for c in f.attrs["classes"]))' "$pool")
    "$hitl" init "$db" --classes "$classes" --overlap 2 \
        --actor demo >/dev/null
    "$hitl" queue "$db" --from "$pool" --features features --head "$dir/head.h5" --method margin \
        --top-k 200 --blind 40 --seed 7 --batch fashion-1 --data "$dir/items.jsonl" >/dev/null
fi
"$py" "$dir/images.py" png "$data" "$pool" "$dir/media" "$db"

token() { "$hitl" user add "$db" "$1" --role "$2" --json | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/'; }
ana=$(token ana annotator)
ben=$(token ben annotator)
rita=$(token rita reviewer)
ada=$(token ada admin)
queued=$("$hitl" status "$db" --json | sed 's/.*"items_queued":\([0-9]*\).*/\1/')

case "$listen" in
    0.0.0.0:*|\[::\]:*) url="http://$(hostname -f 2>/dev/null || hostname):${listen##*:}/" ;;
    *) url="http://$listen/" ;;
esac
cat <<EOF

hitl serve demo: $data, $queued items queued, overlap 2 (two annotators label each item)
store $db, images in $dir/media

  open  $url
  and log in with one of these tokens (shown once; a new store and tokens on each run):

  ana   annotator  $ana
  ben   annotator  $ben
  rita  reviewer   $rita
  ada   admin      $ada

Annotators label with the keys shown on the buttons (Space skips, Backspace undoes); when
ana and ben disagree on an item, rita decides it under Review; ada also sees the project's
health and charts. Ctrl-C stops the server; the store keeps everything.

EOF
exec "$hitl" serve "$db" --listen "$listen" --media "$dir/media"
