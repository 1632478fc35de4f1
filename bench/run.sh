#!/usr/bin/env bash
# Every figure in BENCHMARKS.md, measured in one run beside the peers, on this machine.
#
#   bash bench/run.sh            # everything (about 25 minutes on 2 cores)
#   bash bench/run.sh parse serve instructions poll latency growth memory shared   # or some of them
#   BASELINE=REV bash bench/run.sh compare   # section 3's first round, this build against REV's
#   BASELINE=REV bash bench/run.sh latency instructions   # these two take turns with REV's build
#
# Needs (installed when missing, as root or with sudo): Debian's wrk, nginx-light, newsboat, valgrind;
# Python's feedparser, fastfeedparser and reader (in a virtualenv under target/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/target/bench
mkdir -p "$WORK"
SECTIONS=("$@")
[ ${#SECTIONS[@]} -gt 0 ] || SECTIONS=(parse serve instructions poll latency growth memory shared)
TRIBUTARY=$ROOT/target/release/tributary
JUST_IN=$ROOT/tests/fixtures/abc/abc-justin-51120-2017-05-23.xml
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

say() { printf '\n== %s\n' "$*"; }

setup() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v newsboat >/dev/null || missing+=(newsboat)
    command -v valgrind >/dev/null || missing+=(valgrind)
    if [ ${#missing[@]} -gt 0 ]; then
        local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if [ ! -x "$WORK/venv/bin/python" ]; then
        python3 -m venv "$WORK/venv"
        "$WORK/venv/bin/pip" install -q feedparser fastfeedparser reader sgmllib3k
    fi
    PY=$WORK/venv/bin/python
    cargo build --release -q --bin tributary --example static_server
}

# nginx serving $1 on 127.0.0.1:$2, in the foreground of a background job.
start_nginx() {
    local root=$1 port=$2 conf=$WORK/nginx-$2.conf
    cat > "$conf" <<EOF
worker_processes auto;
pid $WORK/nginx-$port.pid;
error_log $WORK/nginx-$port.err;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    types { application/rss+xml xml; }
    server { listen 127.0.0.1:$port; root $root; etag on; }
}
EOF
    /usr/sbin/nginx -c "$conf" &
    PIDS+=($!)
    wait_for "http://127.0.0.1:$port/"
}

wait_for() {
    for _ in $(seq 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "nothing answers at $1" >&2
    return 1
}

# A tributary config polling feeds $2.. (URLs) split over (up to) 10 outlets, stored in $1.
config() {
    local db=$1; shift
    cat <<EOF
[server]
listen = "127.0.0.1:18080"
base_url = "http://127.0.0.1:18080/"
[storage]
path = "$db"
retention_days = 36500
[polling]
schedule = "0 0 0 1 1 *"
per_host_concurrency = 16
max_concurrency = 16
min_interval_secs = 0
EOF
    local outlets=$(( $# < 10 ? $# : 10 ))
    for outlet in $(seq 0 $((outlets - 1))); do
        printf '\n[[outlet]]\nid = "o%s"\nfeeds = [' "$outlet"
        local n=0 first=1
        for url in "$@"; do
            if [ $((n % outlets)) -eq "$outlet" ]; then
                [ $first -eq 1 ] || printf ', '
                printf '"%s"' "$url"
                first=0
            fi
            n=$((n + 1))
        done
        printf ']\n'
    done
}

# wrk's requests per second and p99 latency for $@ (URL last), over $WRK_SECONDS (10) seconds.
wrk_line() {
    wrk -t2 -c32 -d"${WRK_SECONDS:-10}"s --latency "$@" 2>&1 |
        awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {printf "%s req/s, p99 %s", rps, p99}'
}

rss_mib() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }

section_parse() {
    say "1. Parse + normalize, ABC Just In ($(stat -c %s "$JUST_IN") bytes, 250 items)"
    # Criterion keeps the last run's estimates: remove them, so that a failed run prints nothing.
    rm -rf "$WORK/../criterion/just-in"
    cargo bench -q --bench parse -- --noplot >/dev/null
    for name in "tributary parse_feed" "feed-rs alone" "rss crate alone" "quick-xml event loop (ceiling)"; do
        "$PY" - "$WORK/../criterion/just-in/$name/new/estimates.json" "$JUST_IN" "$name" <<'EOF'
import json, os, sys
ns = json.load(open(sys.argv[1]))["median"]["point_estimate"]
print(f"{sys.argv[3]}: {os.path.getsize(sys.argv[2]) / ns * 1e3:.1f} MB/s")
EOF
    done
    "$PY" bench/parse_peers.py "$JUST_IN"
}

section_serve() {
    say "2. Serving /feed.xml (100 items), wrk -t2 -c32, keep-alive: seven turns of 5 s each"
    local www=$WORK/www-serve db=$WORK/serve.db
    rm -rf "$www" "$db"*; mkdir -p "$www"
    cp "$JUST_IN" "$www/justin.xml"
    start_nginx "$www" 18081
    config "$db" "http://127.0.0.1:18081/justin.xml" > "$WORK/serve.toml"
    "$TRIBUTARY" run --config "$WORK/serve.toml" 2>"$WORK/serve.log" &
    PIDS+=($!)
    wait_for http://127.0.0.1:18080/healthz
    until curl -s http://127.0.0.1:18080/healthz | grep -q '"items":250'; do sleep 0.2; done
    curl -s -o "$www/feed.xml" http://127.0.0.1:18080/feed.xml
    "$ROOT/target/release/examples/static_server" "$www/feed.xml" 127.0.0.1:18082 &
    PIDS+=($!)
    wait_for http://127.0.0.1:18082/feed.xml
    local etag; etag=$(curl -sI http://127.0.0.1:18080/feed.xml | awk -F': ' 'tolower($1)=="etag" {print $2}' | tr -d '\r')
    echo "feed: $(stat -c %s "$www/feed.xml") bytes"
    # Seven turns each, five seconds a turn, the three taking turns (who goes first rotating),
    # so that a drift of the machine's speed (it is a virtual machine: figures move by a
    # quarter within minutes) falls on all three alike. The medians of the turns, and the
    # median of each turn's ratios, which a drift between turns moves least.
    local -A rates=()
    local against_axum=() against_nginx=()
    local servers=(tributary:18080 axum:18082 nginx:18081)
    for turn in $(seq "${SERVE_TURNS:-7}"); do
        local -A this=()
        local first=$((turn % 3))
        for server in "${servers[@]:first}" "${servers[@]:0:first}"; do
            local line; line=$(WRK_SECONDS=5 wrk_line "http://127.0.0.1:${server#*:}/feed.xml")
            echo "turn $turn, ${server%:*}: $line"
            this[${server%:*}]=${line%% req/s*}
            rates[${server%:*}]+="${line%% req/s*} "
        done
        against_axum+=("$(echo "${this[tributary]} / ${this[axum]}" | bc -l)")
        against_nginx+=("$(echo "${this[tributary]} / ${this[nginx]}" | bc -l)")
    done
    middle() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
    for server in tributary axum nginx; do
        # shellcheck disable=SC2086
        echo "median, $server: $(middle ${rates[$server]}) req/s"
    done
    printf 'median ratio of the turns: tributary / axum %.2f, tributary / nginx %.2f\n' \
        "$(middle "${against_axum[@]}")" "$(middle "${against_nginx[@]}")"
    echo "tributary 304:        $(wrk_line -H "If-None-Match: $etag" http://127.0.0.1:18080/feed.xml)"
    echo "tributary ?q=police:  $(wrk_line 'http://127.0.0.1:18080/feed.xml?q=police')"
    echo "tributary gzip:       $(wrk_line -H 'Accept-Encoding: gzip' http://127.0.0.1:18080/feed.xml)"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

# User-space instructions per /feed.xml request, which callgrind counts the same for the same
# binary and requests however fast this machine runs at the moment (requests per second vary
# by a tenth between runs here): on a new connection each, as a reader polling now and then
# makes them, and on one connection kept alive, as wrk makes them.
section_instructions() {
    say "2b. Instructions per /feed.xml request (callgrind): tributary and the minimal axum server"
    local www=$WORK/www-serve
    rm -rf "$www" "$WORK"/callgrind.*; mkdir -p "$www"
    cp "$JUST_IN" "$www/justin.xml"
    start_nginx "$www" 18081
    count_tributary tributary "$TRIBUTARY" "$www/feed.xml"
    [ -z "${BASELINE:-}" ] || count_tributary "baseline-$BASELINE" "$(baseline_binary "$BASELINE")"
    valgrind -q --tool=callgrind --callgrind-out-file="$WORK/callgrind.axum" \
        "$ROOT/target/release/examples/static_server" "$www/feed.xml" 127.0.0.1:18082 &
    local axum=$!
    PIDS+=($axum)
    until curl -sf -o /dev/null http://127.0.0.1:18082/feed.xml; do sleep 0.5; done
    count_instructions axum $axum 18082
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

# Instructions per request of the daemon binary $2 (named $1) under callgrind, on a fresh store
# of the Just In capture; its feed is kept in $3 when one is named (what the axum server serves).
count_tributary() {
    local name=$1 binary=$2 keep=${3:-} db=$WORK/instructions.db
    rm -f "$db"*
    config "$db" "http://127.0.0.1:18081/justin.xml" > "$WORK/instructions.toml"
    valgrind -q --tool=callgrind --callgrind-out-file="$WORK/callgrind.$name" \
        "$binary" run --config "$WORK/instructions.toml" 2>"$WORK/instructions.log" &
    local pid=$!
    until curl -s http://127.0.0.1:18080/healthz | grep -q '"items":250'; do sleep 0.5; done
    [ -z "$keep" ] || curl -s -o "$keep" http://127.0.0.1:18080/feed.xml
    count_instructions "$name" $pid 18080
    kill $pid; wait $pid 2>/dev/null || true
}

# Instructions per request of server $1 (callgrind's pid $2, port $3): 300 requests on new
# connections, then 500 on one.
count_instructions() {
    local name=$1 pid=$2 url=http://127.0.0.1:$3/feed.xml
    counted() {
        callgrind_control -d "$pid" >/dev/null 2>&1
        sleep 1
        awk '/^(summary|totals):/ {print $2; exit}' "$(ls -t "$WORK/callgrind.$name".* | head -1)"
    }
    for _ in 1 2 3; do curl -s -o /dev/null "$url"; done
    callgrind_control -z "$pid" >/dev/null 2>&1
    for _ in $(seq 300); do curl -s -o /dev/null "$url"; done
    local fresh; fresh=$(counted)
    callgrind_control -z "$pid" >/dev/null 2>&1
    for _ in $(seq 500); do printf 'url = "%s"\noutput = /dev/null\n' "$url"; done | curl -s -K -
    local kept; kept=$(counted)
    echo "$name: $((fresh / 300)) instructions per request on a new connection, $((kept / 500)) kept alive"
}

section_poll() {
    say "3. A poll round of 1,000 feeds of 50 items (nginx on 127.0.0.1, ETag/304)"
    poll_feeds
    rm -f "$WORK/poll.db"*
    for round in 1 2; do
        /usr/bin/time -f "tributary round $round: %e s wall, %U+%S s CPU, max RSS %M KiB" \
            "$TRIBUTARY" poll --force --config "$WORK/poll.toml" > "$WORK/poll-$round.out"
        echo "  ($(grep -c ' 200 ' "$WORK/poll-$round.out" || true) answered 200, $(grep -c ' 304 ' "$WORK/poll-$round.out" || true) answered 304, $(grep -c failed "$WORK/poll-$round.out" || true) failed)"
    done
    # The floor under the round: SQLite alone writing the items and search entries it stored.
    cargo bench -q --bench store_floor -- "$WORK/poll.db"
    rm -f "$WORK/reader.sqlite"*
    "$PY" bench/reader_round.py "$WORK/urls" "$WORK/reader.sqlite"
    rm -rf "$WORK/newsboat"; mkdir -p "$WORK/newsboat"
    printf 'reload-threads 16\n' > "$WORK/newsboat/config"
    for round in 1 2; do
        /usr/bin/time -f "newsboat round $round: %e s wall, %U+%S s CPU" \
            newsboat -x reload -u "$WORK/urls" -C "$WORK/newsboat/config" \
            -c "$WORK/newsboat/cache.db" > /dev/null 2>"$WORK/newsboat/err-$round" || true
        tail -1 "$WORK/newsboat/err-$round"
    done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

# The 1,000 feeds of section 3, served by nginx on 127.0.0.1:18081, and a daemon config for them.
poll_feeds() {
    local www=$WORK/www-poll
    if [ ! -f "$www/feeds/999.xml" ]; then
        "$PY" bench/make_feeds.py 1000 50 "$www/feeds"
    fi
    start_nginx "$www" 18081
    seq 0 999 | sed 's|.*|http://127.0.0.1:18081/feeds/&.xml|' > "$WORK/urls"
    # shellcheck disable=SC2046
    config "$WORK/poll.db" $(cat "$WORK/urls") > "$WORK/poll.toml"
}

# The release binary of commit $1, built once in a worktree of its own; prints its path.
baseline_binary() {
    local old=$WORK/tributary-$1
    if [ ! -x "$old" ]; then
        rm -rf "$WORK/baseline"
        git worktree add -f --detach "$WORK/baseline" "$1" >/dev/null
        (cd "$WORK/baseline" && CARGO_TARGET_DIR=$WORK/baseline-target cargo build --release -q --bin tributary)
        cp "$WORK/baseline-target/release/tributary" "$old"
        git worktree remove --force "$WORK/baseline"
    fi
    echo "$old"
}

# Section 3's first round, this build's and BASELINE's (a commit) taking turns, each on a fresh
# store: five turns, who goes first alternating, so that this machine's drift lands on both.
section_compare() {
    local baseline=${BASELINE:?set BASELINE to the commit to compare with}
    say "3c. The first round of 1,000 feeds: this build against $baseline, taking turns"
    local old; old=$(baseline_binary "$baseline")
    poll_feeds
    local turn binary
    for turn in 1 2 3 4 5; do
        for binary in $([ $((turn % 2)) -eq 1 ] && echo "$old $TRIBUTARY" || echo "$TRIBUTARY $old"); do
            rm -f "$WORK/poll.db"*
            /usr/bin/time -f "$([ "$binary" = "$old" ] && echo baseline || echo current) %e %U %S" \
                "$binary" poll --force --config "$WORK/poll.toml" > /dev/null 2>>"$WORK/compare.times"
        done
    done
    awk '/^(baseline|current) / { wall[$1] = wall[$1] " " $2; cpu[$1] = cpu[$1] " " ($3 + $4) }
        function median(list,   n, v, i, j, t) {
            n = split(list, v, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            return v[int((n + 1) / 2)]
        }
        END {
            for (b in wall) printf "  %-8s wall %s s (median %.2f), CPU %s s (median %.2f)\n", b, wall[b], median(wall[b]), cpu[b], median(cpu[b])
            printf "  current / baseline: wall %.2fx, CPU %.2fx\n", median(wall["current"]) / median(wall["baseline"]), median(cpu["current"]) / median(cpu["baseline"])
        }' "$WORK/compare.times"
    rm -f "$WORK/compare.times"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

section_latency() {
    say "3b. /feed.xml latency while the daemon polls the 1,000 feeds"
    poll_feeds
    # From an empty store each time: once under as many requests as wrk can make, then five
    # times under a steady 1,000 a second (bench/paced.lua), nearer what readers ask of a feed
    # daemon, with the ingest threads at the idle priority (as shipped) and, taking turns, at
    # the normal one (TRIBUTARY_INGEST_PRIORITY=normal): a single run's p99 varies more than
    # the target's margin, and the machine's speed drifts. With BASELINE set, the turns are
    # this build's and BASELINE's, both at the idle priority.
    local -A binaries=([idle]=$TRIBUTARY [normal]=$TRIBUTARY) priorities=([idle]=idle [normal]=normal)
    local variants=(idle normal)
    if [ -n "${BASELINE:-}" ]; then
        variants=(current "baseline-$BASELINE")
        binaries=([current]=$TRIBUTARY ["baseline-$BASELINE"]=$(baseline_binary "$BASELINE"))
        priorities=([current]=idle ["baseline-$BASELINE"]=idle)
    fi
    local -A ratios=()
    for run in saturating 1 2 3 4 5; do
        # Who goes first alternates, so that the machine's drift lands on both.
        local order=("${variants[@]}")
        [ $run = saturating ] || [ $((run % 2)) -eq 1 ] || order=("${variants[1]}" "${variants[0]}")
        for variant in "${order[@]}"; do
            [ $run != saturating ] || [ "$variant" = "${variants[0]}" ] || continue
            local priority=${priorities[$variant]}
            local script=()
            [ $run = saturating ] || script=(-s "$ROOT/bench/paced.lua")
            rm -f "$WORK/poll.db"*
            local started; started=$(date +%s.%N)
            TRIBUTARY_INGEST_PRIORITY=$priority "${binaries[$variant]}" run --config "$WORK/poll.toml" \
                2>"$WORK/poll-daemon.log" &
            PIDS+=($!)
            wait_for http://127.0.0.1:18080/healthz
            # 3 seconds: the round takes about 5, and the measure must not run past it (the
            # round's length is printed: one at least as long as the measure covered it).
            local during idle
            during=$(WRK_SECONDS=3 wrk_line "${script[@]}" http://127.0.0.1:18080/feed.xml)
            until curl -s http://127.0.0.1:18080/healthz | grep -q '"items":50000'; do sleep 0.1; done
            local took; took=$(echo "$(date +%s.%N) - $started" | bc)
            sleep 2
            idle=$(WRK_SECONDS=3 wrk_line "${script[@]}" http://127.0.0.1:18080/feed.xml)
            local ratio; ratio=$(echo "$(p99_ms "$during") / $(p99_ms "$idle")" | bc -l)
            printf '%s, %s (ingest %s): during the round (%.1f s) %s; idle afterwards %s; p99 ratio %.2f\n' \
                "$run" "$variant" "$priority" "$took" "$during" "$idle" "$ratio"
            [ $run = saturating ] || ratios[$variant]+="$ratio "
            echo "  daemon with 1,000 feeds and 50,000 items: $(rss_mib "${PIDS[-1]}") resident"
            kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
            unset 'PIDS[-1]'
        done
    done
    for variant in "${variants[@]}"; do
        # shellcheck disable=SC2086
        printf 'paced, %s: median p99 ratio (during / idle) of 5 runs: %.2f\n' "$variant" \
            "$(printf '%s\n' ${ratios[$variant]} | sort -g | sed -n 3p)"
    done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

# The p99 of a wrk_line, in milliseconds (wrk writes us, ms or s).
p99_ms() {
    echo "$1" | sed 's/.*p99 //' | awk '/us$/ {print $0 / 1000; next} /ms$/ {print $0 + 0; next} /s$/ {print $0 * 1000}'
}

section_memory() {
    say "4. Memory and start-up"
    local dir=$WORK/idle; rm -rf "$dir"; mkdir -p "$dir"
    cp feeds.toml "$dir/feeds.toml"
    "$TRIBUTARY" run --config "$dir/feeds.toml" 2>"$dir/log" &
    local pid=$!
    PIDS+=($pid)
    wait_for http://127.0.0.1:8080/healthz
    sleep 5
    echo "idle, default config: $(rss_mib $pid) resident"
    kill $pid; wait $pid 2>/dev/null || true
    PIDS=()

    [ -f "$WORK/million.db" ] || million >/dev/null
    local db=$WORK/million-copy.db
    # A log left beside an earlier copy would be replayed into this one.
    rm -f "$db"*
    cp "$WORK/million.db" "$db"
    # shellcheck disable=SC2046
    config "$db" $(cat "$WORK/urls" 2>/dev/null || seq 0 999 | sed 's|.*|http://127.0.0.1:9/&.xml|') \
        | sed 's/^per_host_concurrency.*/per_host_concurrency = 2/' > "$WORK/million.toml"
    local started; started=$(date +%s.%N)
    "$TRIBUTARY" run --config "$WORK/million.toml" 2>"$WORK/million.log" &
    pid=$!
    PIDS+=($pid)
    until curl -sf -o /dev/null http://127.0.0.1:18080/feed.xml; do sleep 0.01; done
    echo "1,000,000 items stored: first feed served $(echo "$(date +%s.%N) - $started" | bc) s after start"
    sleep 10
    echo "1,000,000 items, 1,000 feeds: $(rss_mib $pid) resident"
    kill $pid; wait $pid 2>/dev/null || true
    PIDS=()
}

# A PostgreSQL server of the benchmark's own on 127.0.0.1:18432 (Debian's postgresql package),
# durable as a production one is (fsync on); its admin URL in PG_URL.
start_postgres() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || {
        local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    }
    local bin; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    local dir=$WORK/pg as_owner=()
    rm -rf "$dir"; mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; as_owner=(runuser -u postgres --); fi
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" --auth=trust --username=postgres \
        --encoding=UTF8 --no-locale >/dev/null
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
        -o "-p 18432 -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=256MB" >/dev/null
    PG_STOP=("${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop)
    PG_URL=postgres://postgres@127.0.0.1:18432
}

# A fresh database $1 on the benchmark's server.
fresh_database() {
    psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
}

section_shared() {
    say "8. A shared store: the first round of 2,000 feeds of 50 items, on SQLite and on PostgreSQL"
    local www=$WORK/www-shared
    if [ ! -f "$www/feeds/1999.xml" ]; then
        "$PY" bench/make_feeds.py 2000 50 "$www/feeds"
    fi
    start_nginx "$www" 18081
    seq 0 1999 | sed 's|.*|http://127.0.0.1:18081/feeds/&.xml|' > "$WORK/shared-urls"
    start_postgres
    # shellcheck disable=SC2046
    config "$WORK/shared.db" $(cat "$WORK/shared-urls") > "$WORK/shared-sqlite.toml"
    sed "s|^path = .*|url = \"$PG_URL/shared\"|" "$WORK/shared-sqlite.toml" > "$WORK/shared-pg.toml"
    # The second instance listens elsewhere; its public address (base_url) is the same.
    sed 's/^listen = .*/listen = "127.0.0.1:18090"/' "$WORK/shared-pg.toml" > "$WORK/shared-pg-2.toml"
    local round
    round() { # $1: what; the configs after it are polled at once, each by its own process.
        local what=$1; shift
        local started; started=$(date +%s.%N)
        local outs=() config
        for config in "$@"; do
            "$TRIBUTARY" poll --config "$config" > "$config.out" &
            outs+=($!)
        done
        wait "${outs[@]}" || true
        local took; took=$(echo "$(date +%s.%N) - $started" | bc)
        local asked; asked=$(cat "${@/%/.out}" | grep -c ' 200 new' || true)
        local elsewhere; elsewhere=$(cat "${@/%/.out}" | grep -c 'being polled by' || true)
        local later; later=$(cat "${@/%/.out}" | grep -c 'not due' || true)
        printf '%s: %.2f s wall; feeds answered 200: %s, left to the other instance: %s, found polled already: %s\n' \
            "$what" "$took" "$asked" "$elsewhere" "$later"
    }
    rm -f "$WORK/shared.db"*
    round "SQLite, one instance" "$WORK/shared-sqlite.toml"
    fresh_database shared
    round "PostgreSQL, one instance" "$WORK/shared-pg.toml"
    fresh_database shared
    round "PostgreSQL, two instances" "$WORK/shared-pg.toml" "$WORK/shared-pg-2.toml"
    fresh_database lease
    TRIBUTARY_BENCH_POSTGRES=$PG_URL/lease cargo bench -q --bench lease
    # Serving: each instance renders the same feeds from the shared store and serves them from
    # memory, as the SQLite one does.
    "$TRIBUTARY" run --config "$WORK/shared-pg.toml" 2>"$WORK/shared-pg.log" &
    PIDS+=($!)
    "$TRIBUTARY" run --config "$WORK/shared-pg-2.toml" 2>"$WORK/shared-pg-2.log" &
    PIDS+=($!)
    wait_for http://127.0.0.1:18080/healthz
    wait_for http://127.0.0.1:18090/healthz
    sleep 20 # the polls at start (304s) are over
    local one two
    one=$(curl -s http://127.0.0.1:18080/feed.xml | sha256sum); two=$(curl -s http://127.0.0.1:18090/feed.xml | sha256sum)
    echo "the two instances' /feed.xml: $([ "$one" = "$two" ] && echo identical || echo DIFFERENT)"
    echo "PostgreSQL instance 1 /feed.xml: $(wrk_line http://127.0.0.1:18080/feed.xml)"
    echo "PostgreSQL instance 2 /feed.xml: $(wrk_line http://127.0.0.1:18090/feed.xml)"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
    "$TRIBUTARY" run --config "$WORK/shared-sqlite.toml" 2>"$WORK/shared-sqlite.log" &
    PIDS+=($!)
    wait_for http://127.0.0.1:18080/healthz
    echo "SQLite instance /feed.xml:       $(wrk_line http://127.0.0.1:18080/feed.xml)"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
    "${PG_STOP[@]}" >/dev/null
}

section_growth() {
    say "5. Ingest cost per item (dedup included) as the store grows"
    million
}

# The growth benchmark up to 1,000,000 items, keeping its database for the memory section.
million() {
    rm -f "$WORK/million.db"*
    cargo bench -q --bench dedup_scale -- 1000000 --keep "$WORK/million.db"
}

setup
for section in "${SECTIONS[@]}"; do
    "section_$section"
done
