#!/usr/bin/env python3
"""Runs the shell commands of README.md and docs/*.md, so that the docs cannot drift.

Every line of a fenced block without a language, or marked sh/console, is a command
(transcript blocks, ```console, hold "$ command" lines followed by the output expected).
Each command is either run here, or matched by an entry of NOT_RUN_HERE, which says why
and what runs it instead; a command that is neither fails the test. Run as:
  doc_commands.py SOURCE_DIR BUILD_DIR WORK_DIR
Rewrites, so the commands run in a test: build/release/ is this build; HOME is WORK_DIR
(so $HOME/connsched and ~/my-scheduler are folders in it); each block starts in the
clone's top folder, and a `cd` holds until the block ends; the fixed ports 7000, 6380, 6390, 8080 and 9090
become free ones; placeholder paths (/path/to/yours.so) become the template backend.
Servers (echo_server, kv_server, http_server, kv_proxy) are started in the background,
kept until the end of their file, and must exit 0 on SIGTERM; the comparison runs with
short windows; redis-benchmark with fewer requests. Every other command must exit 0.
"""
import os, re, shlex, shutil, signal, socket, subprocess, sys, time

source, build, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)  # what an earlier run left (a copied template, ...)
os.makedirs(work)

# Commands no test can run as written (they take minutes to hours, or are the build
# itself), each with what runs it instead. Anchored regexes on the rewritten command.
NOT_RUN_HERE = [
    (r"bash scripts/main-job\.sh( --full| --closed-loop)?", "the main job; CI's release stage runs the comparison tool's tests (compare_tool_test)"),
    (r"bash scripts/test\.sh( \w+)?", "the whole suite: what CI runs (.ci/run)"),
    (r"bash scripts/soak\.sh( --short)?", "30 min (CI runs --short as scripts/test.sh's soak stage)"),
    (r"(CONNSCHED_FUZZ_TARGETS=\w+ )?bash scripts/fuzz\.sh( \d+)?", "the fuzz stage of scripts/test.sh"),
    (r"cmake --preset release && cmake --build --preset release", "the build this test runs in"),
    (r"\S+/connsched_soak --duration 600 .*", "10 minutes; soak_tool_test runs connsched_soak for 10 s"),
    (r"\S+/connsched_compare --scenario-file loads\.json .*", "the reader's own file; compare_tool_test reads scenario files"),
]

SERVERS = {"echo_server": 7000, "kv_server": 6380, "http_server": 8080, "kv_proxy": 6390,
           "tiny_cache": 11311}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORTS = {p: free_port() for p in (7000, 6380, 6390, 8080, 9090, 11311)}
# Bare names (echo_server, connsched_compare) as an installed connsched gives them.
ENV = dict(os.environ, HOME=work, PATH=f"{build}/bin:" + os.environ["PATH"])
TEMPLATE = f"{build}/plugins/template.so"


def rewrite(cmd):
    cmd = re.sub(r"\$PWD/build/release/|(?<![\w/$])build/release/", f"{build}/", cmd)
    cmd = cmd.replace("build/minimal", f"{work}/minimal")  # README's build without tests
    cmd = re.sub(r"/path/to/\w+\.so", TEMPLATE, cmd)
    for fixed, port in PORTS.items():
        cmd = re.sub(rf"(?<![\d.]){fixed}(?!\d)", str(port), cmd)
    return cmd


def commands(path):
    """(line number, command, expected output or None) for every command in `path`."""
    out, lang, block, start = [], None, None, 0
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if line.startswith("```"):
            if block is None:
                lang, block, start = line[3:].strip(), [], n
            else:
                if lang in ("", "sh", "console"):
                    out += [[None, None, None]]  # a new block starts in the clone's top folder
                    out += parse_block(block, start, lang == "console")
                block = None
            continue
        if block is not None:
            block.append(line)
    return out


def parse_block(lines, start, transcript):
    out, pending = [], ""
    for i, line in enumerate(lines, start + 1):
        if transcript:
            if line.startswith("$ "):
                out.append([i, line[2:], ""])
            elif out:
                out[-1][2] += line + "\n"
            continue
        text = pending + line
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        text = re.sub(r"\s+#.*$", "", text).strip()  # a trailing comment
        if text and not text.startswith("#"):
            out.append([i, text, None])
    return out


class Runner:
    def __init__(self):
        self.servers = []
        self.failures = []
        self.cwd = source  # a `cd` in one command holds for the next, as in a terminal

    def fail(self, where, why):
        self.failures.append(f"{where}: {why}")
        print(f"FAIL {where}: {why}", flush=True)

    def start_server(self, where, cmd):
        words = shlex.split(cmd.rstrip("& "))
        name = os.path.basename(words[0])
        if not any(w.startswith("--port") for w in words):
            words.append(f"--port={PORTS[SERVERS[name]]}")
        port = next(w.split("=", 1)[1] for w in words if w.startswith("--port="))
        # Alternatives on one port (README's first block) are run one after the other.
        self.stop_servers(port)
        log = open(f"{work}/server-{len(self.servers)}-{port}.log", "w+")
        line = cmd.rstrip("& ")  # run by bash, so $HOME and $PWD expand as in a terminal
        if not any(w.startswith("--port") for w in shlex.split(cmd)):
            line += f" --port={port}"
        proc = subprocess.Popen(["bash", "-c", "exec " + line], stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.cwd, env=ENV)
        deadline = time.time() + 20
        while time.time() < deadline:
            log.seek(0)
            if "listening on" in log.read():
                self.servers.append((where, proc, log, port))
                return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        log.seek(0)
        self.fail(where, f"server did not start: {log.read()[-500:]}")
        proc.kill()

    def stop_servers(self, port=None):
        keep = [s for s in self.servers if port is not None and s[3] != port]
        for where, proc, log, _ in [s for s in self.servers if s not in keep]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = "no exit in 30 s"
            if status != 0:
                log.seek(0)
                self.fail(where, f"server exit status {status} after SIGTERM: {log.read()[-500:]}")
        self.servers = keep

    def run(self, where, raw, expected):
        cmd = rewrite(raw)
        for pattern, why in NOT_RUN_HERE:
            if re.fullmatch(pattern, cmd):
                print(f"not run {where}: {raw}  ({why})", flush=True)
                return
        first = os.path.basename(shlex.split(cmd)[0])
        if first in SERVERS and "--help" not in cmd and expected is None:
            print(f"server  {where}: {raw}", flush=True)
            return self.start_server(where, cmd)
        if first == "connsched_compare":
            cmd = re.sub(r" --full| --out[= ]\S+", "", cmd)
            cmd += " --duration=1 --warmup=0.2 --connections=8 --no-reference --out=" + f"{work}/compare"
        cmd = re.sub(r"(redis-benchmark .*)-n \d+", r"\1-n 2000", cmd)
        print(f"run     {where}: {raw}", flush=True)
        cwd_file = f"{work}/cwd"
        r = subprocess.run(["bash", "-c", f"{cmd}\nstatus=$?; pwd >{cwd_file}; exit $status"],
                           cwd=self.cwd, capture_output=True, text=True, timeout=600, env=ENV)
        self.cwd = open(cwd_file).read().strip()
        output = r.stdout + r.stderr
        if expected is not None:  # a transcript: a refusal, its message as shown
            shown = expected.strip().split("] ", 1)[-1]  # after the time, name and level
            if r.returncode == 0 or not all(part in output for part in shown.split("...")):
                self.fail(where, f"expected a refusal showing '{expected.strip()}', got status {r.returncode}: {output[-500:]}")
            return
        if r.returncode != 0:
            self.fail(where, f"exit status {r.returncode}: {output[-800:]}")


runner = Runner()
files = [f"{source}/README.md"] + sorted(
    f"{source}/docs/{f}" for f in os.listdir(f"{source}/docs") if f.endswith(".md"))
for path in files:
    rel = os.path.relpath(path, source)
    for line, cmd, expected in commands(path):
        if cmd is None:
            runner.cwd = source
            continue
        runner.run(f"{rel}:{line}", cmd, expected)
    runner.stop_servers()
    runner.cwd = source
if runner.failures:
    print(f"\n{len(runner.failures)} doc command(s) failed:\n  " + "\n  ".join(runner.failures))
    sys.exit(1)
print("every command in README.md and docs/ ran or is listed as run elsewhere")
