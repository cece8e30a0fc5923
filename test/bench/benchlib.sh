# Shared pieces of the bash benchmark drivers in test/bench (upload_bench, upload_pair): sourced.

wait_line() {  # file, needle: up to a minute for the line to appear; else its tail, and exit
  for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "${0##*/}: no '$2' in $1:" >&2; tail -20 "$1" >&2; exit 1
}

gateway_port() {  # gateway log: the port its "loraplane ready on" line gives
  sed -n 's/.*loraplane ready on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$1" | head -1
}
