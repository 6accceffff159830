#!/usr/bin/env bash
# Start (or stop, with "stop") a local Ray head on 127.0.0.1 for the cluster tests: a real cluster of one node.
# Always exits 0: without the `distributed` extra or a head, the Ray tests skip with a reason.
set -u
say() { echo "ray.sh: $*"; }
RAY=".venv/bin/ray"
PORT="${ATB_RAY_PORT:-6379}"
[ -x "$RAY" ] || { say "ray is not installed (pip install -e '.[distributed]') -- the Ray tests will be skipped"; exit 0; }
if [ "${1:-start}" = "stop" ]; then
    "$RAY" stop --force >/dev/null 2>&1; say "stopped"; exit 0
fi
# Usage stats off and no dashboard: nothing leaves the machine, start-up stays short.
if RAY_USAGE_STATS_ENABLED=0 "$RAY" start --head --node-ip-address 127.0.0.1 --port "$PORT" --num-cpus 2 \
        --disable-usage-stats --include-dashboard=false >/tmp/ray-start.log 2>&1; then
    say "head on 127.0.0.1:$PORT (export ATB_TEST_RAY_ADDRESS=127.0.0.1:$PORT)"
else
    say "could not start a head ($(tail -1 /tmp/ray-start.log)) -- the Ray tests will be skipped"
fi
exit 0
