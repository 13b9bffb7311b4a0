#!/usr/bin/env python3
# The attacks of integration/abuse.rs against a server binary, with their time and the
# server's memory: python3 scripts/attacks.py target/release/vibecoding 3904
# (Postgres and Redis on their default local ports; the database it makes is dropped).
import json, os, subprocess, sys, time, urllib.request, uuid, socket, struct

BIN = sys.argv[1]
PORT = int(sys.argv[2])
db = "measure_" + uuid.uuid4().hex[:8]
env = dict(os.environ, DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db}", PORT=str(PORT),
           APP_ENV="development", RUST_LOG="error", VIBECODING_REDIS__KEY_PREFIX=f"m{db}:",
           VIBECODING_JOBS__EMBEDDED="false", VIBECODING_MAIL__OUTBOX_DIR=f"/tmp/attacks-outbox-{db}",
           VIBECODING_UPLOADS__DIR=f"/tmp/attacks-uploads-{db}")
proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def rss():
    try:
        for l in open(f"/proc/{proc.pid}/status"):
            if l.startswith("VmRSS"): return int(l.split()[1]) // 1024
    except Exception: return None
def post(body, token=None, timeout=60, raw=None, headers=None):
    h = {"content-type": "application/json"}
    if token: h["authorization"] = "Bearer " + token
    if headers: h.update(headers)
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}/graphql", data=data, headers=h)
    t = time.time()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r: out = r.read().decode()
    except urllib.error.HTTPError as e: out = e.read().decode()
    except Exception as e: out = f"<no answer: {type(e).__name__}>"
    return time.time() - t, out[:160]
for _ in range(200):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/v1/health_checks/app", timeout=1); break
    except Exception: time.sleep(0.2)
print("idle RSS MB", rss())
req = urllib.request.Request(f"http://127.0.0.1:{PORT}/graphql", data=json.dumps({"query": "mutation { register(input: {username: \"attacker\", email: \"a@example.com\", password: \"correct horse battery\"}) { token } }"}).encode(), headers={"content-type": "application/json"})
token = json.loads(urllib.request.urlopen(req).read())["data"]["register"]["token"]
ONLY = os.environ.get("ONLY")
def fan(levels):
    q = "query{...F0}"
    for i in range(levels): q += f" fragment F{i} on Query{{...F{i+1} ...F{i+1}}}"
    return q + f" fragment F{levels} on Query{{health{{app}}}}"
for levels, to in ([] if ONLY else [(21, 60), (23, 60), (25, 60), (40, 20)]):
    t, out = post({"query": fan(levels)}, timeout=to)
    print(f"fan-out {levels} levels ({len(fan(levels))} bytes): {t:.3f}s -> {out[:90]}")
def bomb(levels):
    names = [f"l{i}" for i in range(levels + 1)]
    y = f"{names[0]}: &{names[0]} [x,x,x,x,x,x,x,x,x,x]\n"
    for a, b in zip(names, names[1:]):
        y += f"{b}: &{b} [" + ",".join([f"*{a}"] * 10) + "]\n"
    return f"---\n{y}title: bomb\n---\nbody"
C = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { article { id } userErrors { field message code } } }"
for levels in ([] if ONLY else [6, 7]):
    before = rss()
    t, out = post({"query": C, "variables": {"i": {"bodyMarkdown": bomb(levels)}}}, token, timeout=120)
    print(f"alias bomb {levels} levels ({len(bomb(levels))} bytes): {t:.3f}s, RSS {before} -> {rss()} MB -> {out[:90]}")
if not ONLY:
    t, out = post({"query": C, "variables": {"i": {"title": "q", "bodyMarkdown": ">" * 200000 + " x"}}}, token, timeout=300)
    print(f"200,000 nested quotes (200 KB): {t:.3f}s -> {out[:90]}")
t, out = post({"query": C, "variables": {"i": {"title": "q", "bodyMarkdown": ">" * 20000 + " x"}}}, token, timeout=300)
print(f"20,000 nested quotes (20 KB): {t:.3f}s -> {out[:90]}")
for field, q in [("tag(name:)", '{ tag(name: "a\\u0000") { name } }'), ("user(username:)", '{ user(username: "a\\u0000") { id } }'),
                 ("search(query:)", '{ search(query: "a\\u0000") { edges { cursor } } }'), ("login", 'mutation { login(input: {login: "a\\u0000", password: "x"}) { token } }')]:
    t, out = post({"query": q})
    import re
    m = re.search(r'"code":"([A-Z_]+)"', out)
    code = m.group(1) if m else out
    print(f"NUL in {field}: {code}")
deep = "{ tag(name: " + "[" * 3000 + '"x"' + "]" * 3000 + ") { name } }"
if not ONLY:
    t, out = post({"query": deep}, timeout=20)
    time.sleep(0.5)
    print(f"3,000 nested lists ({len(deep)} bytes): {t:.3f}s -> {out[:60]}; server alive: {proc.poll() is None}")
if proc.poll() is None:
    # GIF bomb: 4096x4096 canvas, 500 one-pixel frames.
    gif = b"GIF89a" + struct.pack("<HH", 4096, 4096) + bytes([0x80, 0, 0]) + bytes([0,0,0,255,255,255])
    for _ in range(500):
        gif += bytes([0x2c]) + struct.pack("<HHHH", 0, 0, 1, 1) + bytes([0]) + bytes([2, 2, 0x4c, 0x01, 0])
    gif += b";"
    boundary = "XyZ"
    ops = json.dumps({"query": "mutation($f: Upload!) { uploadImage(input: { file: $f, purpose: ARTICLE }) { image { id } userErrors { field message code } } }", "variables": {"f": None}})
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{ops}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"b.gif\"\r\nContent-Type: image/gif\r\n\r\n").encode() + gif + f"\r\n--{boundary}--\r\n".encode()
    before = rss()
    t, out = post(None, token, timeout=600, raw=body, headers={"content-type": f"multipart/form-data; boundary={boundary}", "apollo-require-preflight": "1"})
    print(f"GIF 4096x4096 x 500 frames ({len(gif)} bytes): {t:.3f}s, RSS {before} -> {rss()} MB -> {out[:90]}")
print("final RSS MB", rss(), "alive", proc.poll() is None)
proc.terminate()
try: proc.wait(10)
except Exception: proc.kill()
subprocess.run(["psql", "-q", "-U", "postgres", "-h", "127.0.0.1", "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
