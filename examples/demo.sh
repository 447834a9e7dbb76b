#!/usr/bin/env bash
# `make demo`: run the bundled example service under hotdump, let it crash, and show what hotdump
# kept and what it found. Everything lands in examples/.demo-store (delete it freely).
set -euo pipefail
cd "$(dirname "$0")/.."
HOTDUMP="$PWD/bin/hotdump"
STORE="$PWD/examples/.demo-store"
BIN="$PWD/examples/orders/orders"

bold() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }

bold "Building the example service (examples/orders) with debug-friendly flags"
(cd examples/orders && go build -gcflags='all=-N -l' -o "$BIN" .)
echo "built $BIN"

bold "hotdump exec -- ./orders   (the service crashes about 300 ms after it starts)"
set +e
ADDR=127.0.0.1:0 ORDERS_API_TOKEN=tok-demo-12345 "$HOTDUMP" exec --store "$STORE" -- "$BIN"
status=$?
set -e
echo "(hotdump exec exited with the program's own status: $status)"

bold "hotdump crashes"
"$HOTDUMP" crashes --store "$STORE"

id=$("$HOTDUMP" crashes --store "$STORE" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].id))')
bold "hotdump report $id"
"$HOTDUMP" report --store "$STORE" "$id"

bold "What else (bin/hotdump is the CLI; npm link puts it on your PATH)"
cat <<MSG
  bin/hotdump report --store examples/.demo-store latest --format html --out report.html   # one self-contained page
  bin/hotdump debug  --store examples/.demo-store latest          # dlv core on the exact binary, on the crashing goroutine
  bin/hotdump exec --redact -- ./your-service                      # the same, with secret-looking values masked
  cd your-go-module && $PWD/bin/hotdump dev                        # watch, build, run; every crash kept and explained
MSG
