#!/usr/bin/env bash
# Tests the shipped reverse-proxy configuration, config/nginx/belonging.conf, with Debian's
# nginx in front of a real `belonging serve`:
#   - a throwaway CA and server certificate (openssl) in a temp dir;
#   - Belonging on a fresh SQLite database with the demo sign-ins, on an ephemeral loopback port,
#     configured as README says (secure_cookies, trusted_proxies = nginx's address);
#   - nginx as a foreground, non-daemon process with its own prefix, pid, logs and cache in the
#     temp dir, running the shipped file with only its listen ports, certificate paths, upstream
#     address and cache directory substituted (each substitution must match, so the file tested
#     is the file shipped);
#   - curl and openssl s_client check what a client sees.
#
# Usage: BELONGING_BIN=build/asan/belonging tests/proxy/nginx-test.sh   (from any directory)
# Needs nginx, curl and openssl (scripts/lib/deps.sh installs them with `install_deps test`).
# Exit status: 0 all checks passed, 1 a check failed or something could not run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONF_SRC=${BELONGING_NGINX_CONF:-$ROOT/config/nginx/belonging.conf} # override only to test the test
BIN=${BELONGING_BIN:-$ROOT/build/asan/belonging}
NGINX=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
NAME=belonging.example.nhs.uk # the server_name in the shipped file; curl resolves it to 127.0.0.1
CLIENT_ADDR=127.0.0.2         # curl connects from here, so nginx's $remote_addr is not its own
FORGED=203.0.113.9            # an X-Forwarded-For a client tries to smuggle in
HEADER_TIMEOUT=10             # client_header_timeout in the shipped file

failures=0
checks=0
pass() { checks=$((checks + 1)); printf 'ok %d - %s\n' "$checks" "$*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); printf 'not ok %d - %s\n' "$checks" "$*"; }
die() { printf 'nginx-test: %s\n' "$*" >&2; exit 1; }

for tool in "$NGINX" curl openssl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (install_deps test installs nginx, curl and openssl)"
done
[[ -x $BIN ]] || die "Belonging binary not found at $BIN: build it or set BELONGING_BIN"
[[ -f $CONF_SRC ]] || die "$CONF_SRC is missing"

# nginx's workers run as "nobody" when started as root: the temp dir must be traversable,
# and nginx creates (and chowns) its own temp and cache directories under it.
T=$(mktemp -d /tmp/belonging-nginx.XXXXXX)
chmod 0755 "$T"
BELONGING_PID=
NGINX_PIDS=()
cleanup() {
    local rc=$?
    set +e
    local pid
    for pid in "${NGINX_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        kill -QUIT "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ -n $BELONGING_PID ]] && kill -0 "$BELONGING_PID" 2>/dev/null; then
        kill -TERM "$BELONGING_PID"
        for _ in $(seq 150); do kill -0 "$BELONGING_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$BELONGING_PID" 2>/dev/null
        wait "$BELONGING_PID" 2>/dev/null
    fi
    if ((rc != 0)) && [[ -d $T ]]; then
        for f in "$T/belonging.out" "$T"/nginx-*/logs/error.log; do
            [[ -s $f ]] && { printf -- '--- %s (last 30 lines)\n' "${f#"$T"/}"; tail -n 30 "$f"; }
        done
    fi
    rm -rf -- "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Certificates: a throwaway CA, and a server certificate for $NAME signed by it. ----------
mkdir -p "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=Belonging test CA" \
    -keyout "$T/tls/ca.key" -out "$T/tls/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$NAME" \
    -keyout "$T/tls/privkey.pem" -out "$T/tls/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$NAME" >"$T/tls/ext.cnf"
openssl x509 -req -in "$T/tls/server.csr" -CA "$T/tls/ca.pem" -CAkey "$T/tls/ca.key" \
    -CAcreateserial -days 1 -extfile "$T/tls/ext.cnf" -out "$T/tls/fullchain.pem" 2>/dev/null

# --- Belonging, configured as README's "Production: nginx in front" says. -------------------
mkdir -p "$T/belonging"
cat >"$T/belonging/belonging.toml" <<TOML
[server]
listen = "127.0.0.1:0"
threads = 8
max_body_bytes = 1048576
secure_cookies = true
static_dir = "$ROOT/web/static"
[database]
url = "sqlite:$T/belonging/b.db"
[sso]
trusted_proxies = ["127.0.0.1"]
[log]
access_log = "$T/belonging/access.log"
[plugins]
enabled = ["admin", "networks", "experience"]
required = ["admin"]
TOML
export BELONGING_EXPERIENCE_KEY=${BELONGING_EXPERIENCE_KEY:-$(openssl rand -hex 32)}
"$BIN" --config "$T/belonging/belonging.toml" demo >"$T/belonging.out" 2>&1 || die "belonging demo failed"
"$BIN" --config "$T/belonging/belonging.toml" serve >>"$T/belonging.out" 2>&1 &
BELONGING_PID=$!
upstream=
for _ in $(seq 300); do
    upstream=$(sed -n 's|.*Belonging is ready at http://\(127\.0\.0\.1:[0-9]*\).*|\1|p' "$T/belonging.out" | head -n1)
    [[ -n $upstream ]] && break
    kill -0 "$BELONGING_PID" 2>/dev/null || die "belonging serve exited before it was ready"
    sleep 0.1
done
[[ -n $upstream ]] || die "belonging serve did not report ready within 30 s"
printf '# belonging serve at %s\n' "$upstream"

# --- nginx: the shipped file, rendered. --------------------------------------------------------
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

# render FROM TO COUNT: replace every FROM by TO, which must occur exactly COUNT times.
conf=$(<"$CONF_SRC")
render() {
    local from=$1 to=$2 want=$3 n
    n=$(grep -cF -- "$from" <<<"$conf" || true)
    ((n == want)) || die "config/nginx/belonging.conf: expected $want line(s) with '$from', found $n (update the test with the file)"
    conf=${conf//"$from"/"$to"}
}

# start_nginx DIR UPSTREAM [echo]: nginx with prefix DIR running the shipped file in front of
# UPSTREAM (host:port). With "echo", the harness (not the shipped file) also runs a server that
# answers with the headers it received, and UPSTREAM is ignored: the shipped file proxies to it.
# Sets HTTP_PORT and HTTPS_PORT; returns 2 when a port was taken (try again).
start_nginx() {
    local dir=$1 target=$2 mode=${3:-} echo_server='' pid
    HTTP_PORT=$(free_port) || die "no free port"
    HTTPS_PORT=$(free_port) || die "no free port"
    [[ $HTTPS_PORT != "$HTTP_PORT" ]] || return 2
    if [[ $mode == echo ]]; then
        local echo_port
        echo_port=$(free_port) || die "no free port"
        [[ $echo_port != "$HTTP_PORT" && $echo_port != "$HTTPS_PORT" ]] || return 2
        target=127.0.0.1:$echo_port
        echo_server="server {
        listen 127.0.0.1:$echo_port;
        location / {
            default_type text/plain;
            return 200 \"xff=[\$http_x_forwarded_for] proto=[\$http_x_forwarded_proto] real_ip=[\$http_x_real_ip] user=[\$http_x_remote_user] secret=[\$http_x_belonging_proxy_secret] accept_encoding=[\$http_accept_encoding] connection=[\$http_connection] host=[\$http_host] protocol=[\$server_protocol]\\n\";
        }
    }"
    fi
    conf=$(<"$CONF_SRC")
    render 'listen [::]:80;' '# (IPv6 listener dropped in the test)' 1
    render 'listen [::]:443 ssl http2;' '# (IPv6 listener dropped in the test)' 1
    render 'listen 80;' "listen 127.0.0.1:$HTTP_PORT;" 1
    render 'listen 443 ssl http2;' "listen 127.0.0.1:$HTTPS_PORT ssl http2;" 1
    render '/etc/belonging/tls/' "$T/tls/" 2
    render 'server 127.0.0.1:8080;' "server $target;" 1
    render '/var/cache/nginx/belonging' "$dir/cache" 1
    mkdir -p "$dir/logs" "$dir/tmp"
    printf '%s\n' "$conf" >"$dir/belonging.conf"
    cat >"$dir/nginx.conf" <<NGINX
# Test harness around the shipped site file (as /etc/nginx/nginx.conf is around a site).
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/belonging.conf;
    $echo_server
}
NGINX
    "$NGINX" -t -q -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" ||
        die "nginx -t rejected the rendered configuration ($dir/nginx.conf)"
    : >"$dir/logs/error.log"
    "$NGINX" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" >"$dir/logs/stdout.log" 2>&1 &
    pid=$!
    NGINX_PIDS+=("$pid")
    for _ in $(seq 100); do
        if curl -s -o /dev/null --max-time 2 --cacert "$T/tls/ca.pem" \
            --resolve "$NAME:$HTTPS_PORT:127.0.0.1" "https://$NAME:$HTTPS_PORT/healthz"; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        grep -q 'Address already in use' "$dir/logs/error.log" 2>/dev/null && return 2
    fi
    die "nginx did not come up on 127.0.0.1:$HTTPS_PORT"
}
# run_nginx DIR UPSTREAM [echo]: start_nginx, retrying when a port was taken meanwhile.
run_nginx() {
    local rc
    for _ in 1 2 3; do
        rc=0
        start_nginx "$@" || rc=$?
        ((rc == 0)) && return 0
        ((rc == 2)) || return "$rc"
    done
    die "nginx could not bind its ports"
}

# The echo instance first (its ports are only needed for check 1).
run_nginx "$T/nginx-echo" unused echo
ECHO_HTTPS_PORT=$HTTPS_PORT
run_nginx "$T/nginx" "$upstream"
printf '# nginx %s at https://127.0.0.1:%s (http: %s); header echo behind it at port %s\n' \
    "$("$NGINX" -v 2>&1 | sed 's|.*/||')" "$HTTPS_PORT" "$HTTP_PORT" "$ECHO_HTTPS_PORT"

# The client connects from $CLIENT_ADDR where the loopback allows it (Linux: all of 127/8).
client_from=(--interface "$CLIENT_ADDR")
if ! curl -s -o /dev/null --max-time 5 "${client_from[@]}" --cacert "$T/tls/ca.pem" \
    --resolve "$NAME:$HTTPS_PORT:127.0.0.1" "https://$NAME:$HTTPS_PORT/healthz"; then
    printf '# cannot connect from %s; the client address check uses 127.0.0.1\n' "$CLIENT_ADDR"
    CLIENT_ADDR=127.0.0.1
    client_from=()
fi

HTTPS=https://$NAME:$HTTPS_PORT
https_curl() {
    curl -sS --max-time 15 --cacert "$T/tls/ca.pem" --resolve "$NAME:$HTTPS_PORT:127.0.0.1" "$@"
}
header() { # header NAME FILE: the value of the last NAME header in a curl -D dump
    { grep -i "^$1:" "$2" || true; } | tail -n1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'
}

# 1. HTTPS reaches Belonging.
body=$(https_curl -D "$T/h1" "$HTTPS/healthz") || true
status=$(head -n1 "$T/h1" | awk '{print $2}')
if [[ $status == 200 && $body == *'"status":"ok"'* ]]; then
    pass "HTTPS /healthz through nginx answers 200 ok"
else
    fail "HTTPS /healthz: status $status, body $body"
fi

# 2. Plain HTTP only redirects, to the same path over HTTPS.
curl -sS --max-time 10 -o /dev/null -D "$T/h2" -H "Host: $NAME" "http://127.0.0.1:$HTTP_PORT/signin?next=/networks" || true
status=$(head -n1 "$T/h2" | awk '{print $2}')
location=$(header Location "$T/h2")
if [[ $status == 301 && $location == "https://$NAME/signin?next=/networks" ]]; then
    pass "HTTP redirects to HTTPS (301 $location)"
else
    fail "HTTP: status $status, Location '$location' (want 301 https://$NAME/signin?next=/networks)"
fi

# 3. Belonging's security headers pass through; nginx adds no version.
https_curl -o "$T/b3" -D "$T/h3" -H 'Accept-Encoding: gzip, br' "$HTTPS/signin" || true
missing=()
for h in Content-Security-Policy X-Content-Type-Options Referrer-Policy X-Frame-Options Strict-Transport-Security; do
    [[ -n $(header "$h" "$T/h3") ]] || missing+=("$h")
done
if ((${#missing[@]} == 0)); then
    pass "security headers pass through (CSP, nosniff, Referrer-Policy, X-Frame-Options, HSTS)"
else
    fail "security headers missing through nginx: ${missing[*]}"
fi
server=$(header Server "$T/h3")
if [[ -z $server || $server == nginx ]]; then
    pass "no server version disclosed (Server: ${server:-none})"
else
    fail "Server header discloses '$server'"
fi

# 4. Pages are not compressed (BREACH), even when the client asks.
encoding=$(header Content-Encoding "$T/h3")
if [[ -z $encoding ]] && grep -q '<html' "$T/b3"; then
    pass "HTML is sent uncompressed although the client accepts gzip and br"
else
    fail "HTML page has Content-Encoding '$encoding'"
fi

# 5. Cookies are Secure: the pre-session cookie, and the session cookie after signing in.
presession=$(grep -i '^set-cookie:' "$T/h3" | tr -d '\r' || true)
csrf=$(sed -n 's/.*name="_csrf" value="\([^"]*\)".*/\1/p' "$T/b3" | head -n1)
if [[ -n $presession && $presession == *'; Secure'* ]]; then
    pass "pre-session cookie is Secure"
else
    fail "pre-session cookie not Secure: '${presession:-no Set-Cookie}'"
fi
cookie_pair=$(sed -n 's/^[Ss]et-[Cc]ookie: *\([^;]*\);.*/\1/p' <<<"$presession" | head -n1)
https_curl -o /dev/null -D "$T/h5" -H "Cookie: $cookie_pair" -H "Origin: https://$NAME" \
    --data-urlencode "_csrf=$csrf" --data-urlencode username=staff \
    --data-urlencode password=belonging-demo --data-urlencode next=/ "$HTTPS/signin" || true
status=$(head -n1 "$T/h5" | awk '{print $2}')
session=$(grep -i '^set-cookie:' "$T/h5" | grep -iv 'max-age=0' | tr -d '\r' | head -n1 || true)
if [[ $status == 30[0-9] && -n $session && $session == *'; Secure'* && $session == *HttpOnly* ]]; then
    pass "signing in through nginx sets a Secure, HttpOnly session cookie ($status)"
else
    fail "sign-in: status $status, cookie '${session:-none}'"
fi
session_pair=$(sed -n 's/^[Ss]et-[Cc]ookie: *\([^;]*\);.*/\1/p' <<<"$session" | head -n1)
status=$(https_curl -o /dev/null -w '%{http_code}' -H "Cookie: $session_pair" "$HTTPS/" || true)
if [[ $status == 200 ]]; then
    pass "a signed-in page answers 200 through nginx"
else
    fail "signed-in home page: status $status"
fi

# 6. A client cannot choose the address Belonging sees: nginx overwrites X-Forwarded-For.
probe=/healthz
before=$(grep -c '' "$T/belonging/access.log" || true)
https_curl "${client_from[@]}" -o /dev/null -H "X-Forwarded-For: $FORGED" -H "X-Real-IP: $FORGED" \
    "$HTTPS$probe" || true
sleep 0.2
line=$(tail -n +"$((before + 1))" "$T/belonging/access.log" | grep -F "\"path\":\"$probe\"" | tail -n1)
if [[ $line == *"\"remote_addr\":\"$CLIENT_ADDR\""* ]]; then
    pass "forged X-Forwarded-For ignored: Belonging logged remote_addr $CLIENT_ADDR"
else
    fail "forged X-Forwarded-For: Belonging's access log says: ${line:-nothing}"
fi
if grep -qF "$FORGED" "$T/belonging/access.log"; then
    fail "the forged address $FORGED reached Belonging's access log"
else
    pass "the forged address never reached Belonging"
fi

# What nginx sends upstream, seen by the header echo behind the second instance: the
# client's X-Forwarded-For, X-Real-IP and single sign-on headers replaced or dropped, and
# HTTP/1.1 with keep-alive (no "Connection: close") and no compression asked for.
got=$(curl -sS --max-time 10 "${client_from[@]}" --cacert "$T/tls/ca.pem" \
    --resolve "$NAME:$ECHO_HTTPS_PORT:127.0.0.1" -H "X-Forwarded-For: $FORGED" -H "X-Real-IP: $FORGED" \
    -H 'X-Forwarded-Proto: http' -H 'X-Remote-User: admin' -H 'X-Belonging-Proxy-Secret: guess' \
    -H 'Accept-Encoding: gzip' "https://$NAME:$ECHO_HTTPS_PORT/anything" || true)
want="xff=[$CLIENT_ADDR] proto=[https] real_ip=[$CLIENT_ADDR] user=[] secret=[] accept_encoding=[] connection=[] host=[$NAME] protocol=[HTTP/1.1]"
if [[ $got == "$want" ]]; then
    pass "upstream sees: $got"
else
    fail "upstream request headers: got '$got', want '$want'"
fi

# 7. A body over client_max_body_size gets 413 from nginx, before Belonging reads it.
head -c $((2 * 1024 * 1024)) /dev/zero >"$T/big.bin"
before=$(grep -c '' "$T/belonging/access.log" || true)
status=$(https_curl -o "$T/b7" -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
    --data-binary @"$T/big.bin" "$HTTPS/signin" || true)
after=$(grep -c '' "$T/belonging/access.log" || true)
if [[ $status == 413 ]] && grep -q nginx "$T/b7" && ((after == before)); then
    pass "a 2 MiB body gets 413 from nginx; Belonging never saw it"
else
    fail "large body: status $status, Belonging log lines $before -> $after"
fi

# 8. Static files are cached by nginx (and may be compressed: they hold no secrets).
https_curl -o /dev/null -D "$T/h8a" "$HTTPS/static/nhsuk.min.css" || true
https_curl -o /dev/null -D "$T/h8b" -H 'Accept-Encoding: gzip' "$HTTPS/static/nhsuk.min.css" || true
status=$(head -n1 "$T/h8b" | awk '{print $2}')
if [[ $status == 200 && $(header X-Cache-Status "$T/h8b") == HIT && $(header Cache-Control "$T/h8b") == *max-age* ]]; then
    pass "static files are cached by nginx (second request: X-Cache-Status HIT, $(header Content-Encoding "$T/h8b" | sed 's/^$/identity/'))"
else
    fail "static: status $status, X-Cache-Status '$(header X-Cache-Status "$T/h8b")', Cache-Control '$(header Cache-Control "$T/h8b")'"
fi

# 9. Slowloris: a client that drips its headers (a byte every 2 s, never finishing) is cut
#    off by nginx client_header_timeout after its first byte, with no response, and everyone
#    else is served meanwhile.
mkfifo "$T/slow.in"
openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" -servername "$NAME" -CAfile "$T/tls/ca.pem" \
    <"$T/slow.in" >"$T/slow.out" 2>"$T/slow.err" &
slow=$!
exec 4>"$T/slow.in"
start=$(date +%s.%N)
(
    printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nX-Slow: ' "$NAME"
    for _ in $(seq $((HEADER_TIMEOUT * 3))); do sleep 2; printf 'a'; done
) >&4 2>/dev/null &
dripper=$!
sleep 1
status=$(https_curl -o /dev/null -w '%{http_code}' "$HTTPS/healthz" || true)
slow_rc=running
for _ in $(seq $(((HEADER_TIMEOUT + 10) * 10))); do
    if ! kill -0 "$slow" 2>/dev/null; then
        wait "$slow" 2>/dev/null && slow_rc=0 || slow_rc=$?
        break
    fi
    sleep 0.1
done
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
kill "$dripper" 2>/dev/null || true
[[ $slow_rc == running ]] && kill "$slow" 2>/dev/null
exec 4>&-
wait "$dripper" "$slow" 2>/dev/null || true
if [[ $slow_rc != running ]] && ! grep -q 'HTTP/' "$T/slow.out" &&
    awk -v e="$elapsed" -v t="$HEADER_TIMEOUT" 'BEGIN{exit !(e >= t - 1 && e < t + 5)}'; then
    pass "a slow-header client is cut off by nginx after ${elapsed} s (client_header_timeout ${HEADER_TIMEOUT}s), no response sent"
else
    fail "slow-header client: ${slow_rc/running/still connected} after ${elapsed} s; it got: $(head -c 200 "$T/slow.out")"
fi
if [[ $status == 200 ]]; then
    pass "others are served while the slow client holds its connection"
else
    fail "/healthz during the slow client: status $status"
fi

# 10. Anonymous routes leave no line in nginx's access log or error log: not when answered, not
#     when nginx itself refuses a body that is too large, not over plain HTTP. (Belonging's own
#     counts are checked after it stops, below.)
ngx_logs=$T/nginx/logs
errors_before=$(grep -c '' "$ngx_logs/error.log" || true)
anon=()
anon+=("GET /experience/code $(https_curl -o /dev/null -w '%{http_code}' "$HTTPS/experience/code" || true)")
anon+=("POST /experience/code $(https_curl -o /dev/null -w '%{http_code}' --data 'code=0000' "$HTTPS/experience/code" || true)")
anon+=("POST /experience/code/answers $(https_curl -o /dev/null -w '%{http_code}' --data 'code=0000' \
    "$HTTPS/experience/code/answers" || true)")
anon+=("POST /experience/submit $(https_curl -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data '{"wave":' "$HTTPS/experience/submit" || true)")
anon+=("POST /experience/submit (2 MiB) $(https_curl -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/octet-stream' --data-binary @"$T/big.bin" "$HTTPS/experience/submit" || true)")
anon+=("GET /experience/receipt/x $(https_curl -o /dev/null -w '%{http_code}' "$HTTPS/experience/receipt/x" || true)")
anon+=("GET http://…/experience/code $(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Host: $NAME" \
    "http://127.0.0.1:$HTTP_PORT/experience/code" || true)")
# The same refusal on an identified route, and a request after everything: both must be logged,
# so the absence above means something.
https_curl -o /dev/null -H 'Content-Type: application/octet-stream' --data-binary @"$T/big.bin" \
    "$HTTPS/signin?after-anonymous" || true
https_curl -o /dev/null "$HTTPS/healthz?after-anonymous" || true
sleep 0.2
printf '# anonymous requests through nginx (route status): %s\n' "$(IFS=,; echo "${anon[*]}")"
if [[ ${anon[0]} != *' 200' || ${anon[3]} != *' 400' || ${anon[4]} != *' 413' || ${anon[6]} != *' 301' ]]; then
    fail "anonymous routes through nginx: unexpected statuses: ${anon[*]}"
elif grep -q '/experience/' "$ngx_logs/access.log"; then
    fail "nginx's access log has a line for an anonymous route: $(grep '/experience/' "$ngx_logs/access.log" | head -n1)"
elif ! grep -q 'healthz?after-anonymous' "$ngx_logs/access.log"; then
    fail "nginx's access log did not record the identified request after the anonymous ones"
else
    pass "anonymous routes leave no line in nginx's access log (identified requests still do)"
fi
new_errors=$(tail -n +"$((errors_before + 1))" "$ngx_logs/error.log")
if grep -q '/experience/' <<<"$new_errors"; then
    fail "nginx's error log has a line for an anonymous route: $(grep '/experience/' <<<"$new_errors" | head -n1)"
elif ! grep -q 'signin?after-anonymous' <<<"$new_errors"; then
    fail "nginx's error log did not record the too-large body on an identified route (is the check blind?)"
else
    pass "anonymous routes leave no line in nginx's error log, even for nginx's own 413"
fi

# Last: Belonging stops cleanly (under scripts/test it is the ASan build: a sanitizer report
# makes it exit non-zero).
kill -TERM "$BELONGING_PID"
for _ in $(seq 150); do kill -0 "$BELONGING_PID" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$BELONGING_PID" 2>/dev/null || true
belonging_rc=0
wait "$BELONGING_PID" || belonging_rc=$?
BELONGING_PID=
if ((belonging_rc == 0)); then
    pass "belonging serve exits 0 on SIGTERM"
else
    fail "belonging serve exited $belonging_rc on SIGTERM: $(tail -n 20 "$T/belonging.out")"
fi

# 11. Belonging wrote no line per anonymous request either, only the day's counts by route,
#     method and status, written when it stopped.
blog=$T/belonging/access.log
per_request=$(grep -E '/experience/(submit|code)' "$blog" | grep -vE '"(count|errors)":' || true)
if [[ -n $per_request ]]; then
    fail "Belonging's access log has a per-request line for an anonymous route: $(head -n1 <<<"$per_request")"
elif ! grep -qE '^\{"date":"[0-9-]{10}","route":"/experience/code","method":"GET","status":200,"count":1\}$' "$blog" ||
    ! grep -qE '^\{"date":"[0-9-]{10}","route":"/experience/submit","method":"POST","status":400,"count":1\}$' "$blog"; then
    fail "Belonging's daily counts for anonymous routes are missing: $(grep '"route":"/experience/' "$blog" | tr '\n' ' ')"
else
    pass "Belonging kept only daily counts for anonymous routes ($(grep -c '"route":"/experience/' "$blog") count lines)"
fi

printf '1..%d\n' "$checks"
if ((failures > 0)); then
    printf 'nginx-test: %d of %d checks failed\n' "$failures" "$checks"
    exit 1
fi
printf 'nginx-test: all %d checks passed\n' "$checks"
