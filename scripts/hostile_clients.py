#!/usr/bin/env python3
# File: scripts/hostile_clients.py
#
# The attacks of issue #19 (items 1-3) against a kv_server, at a bounded size, with a
# healthy client sending PING every 50 ms throughout; prints the server's peak RSS
# growth and the healthy client's slowest reply for each. Used for the figures in
# docs/reliability.md ("Hostile clients"); loopback only.
#
#   scripts/hostile_clients.py build/release/bin/kv_server [extra server flags...]
import os
import re
import socket
import subprocess
import sys
import threading
import time

SERVER = sys.argv[1]
EXTRA = sys.argv[2:]


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def threads(pid):
    return status_kib(pid, "Threads")


class Server:
    # Starts the server on ephemeral ports and reads them from its log.
    def __init__(self, args):
        self.proc = subprocess.Popen(
            [SERVER, "--port=0", "--admin-port=0"] + EXTRA + args,
            stderr=subprocess.PIPE, text=True)
        self.port = self.admin = None
        while self.port is None or self.admin is None:
            line = self.proc.stderr.readline()
            if not line:
                raise SystemExit("server exited")
            m = re.search(r"admin port listening on [\d.]+:(\d+)", line)
            if m:
                self.admin = int(m.group(1))
                continue
            m = re.search(r"listening on [\d.]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Healthy:
    # PING every 50 ms on its own connection; the slowest reply and failures.
    def __init__(self, port):
        self.port, self.slowest, self.failures, self.stop = port, 0.0, 0, False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.settimeout(30)
        while not self.stop:
            t = time.monotonic()
            try:
                s.sendall(b"PING\r\n")
                if s.recv(64) != b"+PONG\r\n":
                    self.failures += 1
            except OSError:
                self.failures += 1
                s = socket.create_connection(("127.0.0.1", self.port))
                s.settimeout(30)
            self.slowest = max(self.slowest, time.monotonic() - t)
            time.sleep(0.05)

    def done(self):
        self.stop = True
        self.thread.join()


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def report(name, server, healthy, base_kib, extra=""):
    time.sleep(0.5)
    healthy.done()
    peak = status_kib(server.proc.pid, "VmHWM") - base_kib
    now = status_kib(server.proc.pid, "VmRSS") - base_kib
    print(f"{name}: peak RSS +{peak // 1024} MiB, RSS at the end +{now // 1024} MiB, "
          f"healthy slowest reply "
          f"{healthy.slowest * 1000:.0f} ms, failures {healthy.failures}{extra}", flush=True)


def attack_unfinished(n, size):
    server = Server([f"--max-connections={n + 100}"])
    healthy = Healthy(server.port)
    time.sleep(0.3)
    base = status_kib(server.proc.pid, "VmRSS")
    socks = []
    head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (size + 100)
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", server.port))
        try:
            s.sendall(head + b"x" * size)
        except OSError:
            pass
        socks.append(s)
    report(f"{n} unfinished {size // 1000} KB requests", server, healthy, base)
    server.stop()


def attack_non_readers(n, value, count):
    server = Server([])
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(resp(b"SET", b"big", b"v" * value))
    s.recv(16)
    healthy = Healthy(server.port)
    time.sleep(0.3)
    base = status_kib(server.proc.pid, "VmRSS")
    socks = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", server.port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sendall(b"MGET" + b" big" * count + b"\r\n")
        socks.append(c)
    time.sleep(3)
    report(f"{n} non-readers of MGET big x{count} ({value * count // 1000000} MB each)",
           server, healthy, base, f", threads {threads(server.proc.pid)}")
    server.stop()


def attack_multi(n, sets, value):
    server = Server([])
    healthy = Healthy(server.port)
    time.sleep(0.3)
    base = status_kib(server.proc.pid, "VmRSS")

    def one():
        c = socket.create_connection(("127.0.0.1", server.port))
        c.sendall(b"MULTI\r\n")
        c.recv(16)
        frame = resp(b"SET", b"k", b"m" * value)
        for _ in range(sets):
            c.sendall(frame)
            c.recv(128)
        time.sleep(2)
        c.close()
    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    report(f"{n} clients queueing {sets} SETs of {value // 1000} KB in MULTI", server, healthy, base)
    server.stop()


def attack_admin(silent):
    server = Server([])
    socks = [socket.create_connection(("127.0.0.1", server.admin)) for _ in range(silent)]
    time.sleep(0.2)
    t = time.monotonic()
    c = socket.create_connection(("127.0.0.1", server.admin))
    c.settimeout(120)
    c.sendall(b"GET /stats HTTP/1.0\r\n\r\n")
    try:
        ok = c.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    print(f"{silent} silent admin sockets: /stats {'answered' if ok else 'failed'} after "
          f"{(time.monotonic() - t) * 1000:.0f} ms", flush=True)
    del socks
    server.stop()


if __name__ == "__main__":
    which = os.environ.get("ATTACKS", "unfinished,nonreaders,multi,admin").split(",")
    if "unfinished" in which:
        attack_unfinished(500, 900000)
    if "nonreaders" in which:
        attack_non_readers(10, 1000000, 60)
    if "multi" in which:
        attack_multi(2, 200, 1000000)
    if "admin" in which:
        attack_admin(10)
