"""sipreg_testlib — what every integration test needs: the test network,
the real dataplane in it, TAP output, and cleanup that runs even when a
test fails or is interrupted.

Tests print TAP ("ok 1 - name" / "not ok 2 - name") so tests/run-all counts
every check. Every process is started with a bounded wait and stopped by
PID; every namespace, stats file and hugepage file it made is removed.
"""
import atexit
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get("SIPREG_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("SIPREG_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))

SERVER_V4 = "198.18.0.1"
SERVER_V6 = "2001:db8::1"
CLIENT_V4 = "198.18.0.2"
CLIENT_V6 = "2001:db8::2"


def client_v4(i):
    """The i-th extra client source address (0..30): 198.18.0.3 + i."""
    return "198.18.0.%d" % (3 + i)


class Tap:
    """Minimal TAP producer; exit status is non-zero if any check failed."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, cond, name, detail="", todo=None):
        """todo: a reason string marks the check as a known failure (TAP
        "# TODO": meson counts it as an expected fail, and a pass as an
        unexpected pass, so the mark must go once it is fixed)."""
        self.n += 1
        directive = " # TODO %s" % todo if todo else ""
        if cond:
            print("ok %d - %s%s" % (self.n, name, directive), flush=True)
        else:
            if not todo:
                self.failed += 1
            print("not ok %d - %s%s" % (self.n, name, directive), flush=True)
            for line in str(detail).splitlines():
                print("#   " + line, flush=True)
        return cond

    def finish(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed or self.n == 0 else 0


_cleanups = []


def on_cleanup(fn):
    """Registers fn to run at exit (LIFO), also on SIGTERM/SIGINT."""
    _cleanups.append(fn)
    return fn


def _run_cleanups(*_):
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # cleanup must go on
            print("# cleanup error: %s" % e, file=sys.stderr)


def _on_signal(sig, _frame):
    _run_cleanups()
    sys.exit(128 + sig)


atexit.register(_run_cleanups)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def run(cmd, check=True, timeout=60, **kw):
    return subprocess.run(cmd, check=check, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


class TestNet:
    """The namespaces of tools/testnet under a name unique to this test."""

    def __init__(self, tag):
        self.name = ("%s%04d" % (tag[:6], random.randrange(10000)))[:11]
        self.srv_ns = self.name + "-srv"
        self.cli_ns = self.name + "-cli"
        self.srv_if = self.name + "-s0"
        env = dict(os.environ, SIPREG_NET=self.name)
        self.env = env
        on_cleanup(self.down)
        run([os.path.join(SOURCE_DIR, "tools", "testnet"), "up"], env=env)

    def down(self):
        run([os.path.join(SOURCE_DIR, "tools", "testnet"), "down"], env=self.env, check=False)

    def in_client(self, cmd, **kw):
        return run(["ip", "netns", "exec", self.cli_ns] + cmd, **kw)

    def in_server(self, cmd, **kw):
        return run(["ip", "netns", "exec", self.srv_ns] + cmd, **kw)

    def client_python(self, code, timeout=60):
        """Runs python code in the client namespace; returns its stdout."""
        r = self.in_client([sys.executable, "-c", code], timeout=timeout)
        return r.stdout


class Dataplane:
    """sipreg-dataplane running in the server namespace of a TestNet."""

    def __init__(self, net, mode="registrar", extra_config="", workers=1, store_config=""):
        """extra_config: whole sections appended to the INI file;
        store_config: more keys of the [store] section (lines "key = v")."""
        self.net = net
        self.instance = net.name
        self.dir = tempfile.mkdtemp(prefix="sipreg-it-")
        on_cleanup(self._remove_dir)
        self.config_path = os.path.join(self.dir, "dataplane.ini")
        self.log_path = os.path.join(self.dir, "dataplane.log")
        with open(self.config_path, "w") as f:
            f.write("[dataplane]\ninstance = %s\nport = net_af_xdp0,iface=%s\n"
                    "mode = %s\nworkers = %d\nstats_dir = %s\n"
                    "[store]\nstate_dir = %s\n%s%s"
                    % (self.instance, net.srv_if, mode, workers, self.dir,
                       os.path.join(self.dir, "state"),
                       store_config + ("\n" if store_config and not store_config.endswith("\n") else ""),
                       extra_config))
        self.state_dir = os.path.join(self.dir, "state")
        self.proc = None
        on_cleanup(self.stop)

    def start(self, timeout=20):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.net.srv_ns,
             os.path.join(BUILD_DIR, "dataplane", "sipreg-dataplane"), "-c", self.config_path],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dataplane exited with %s:\n%s" % (self.proc.returncode, self.log()))
            st = self.stats(quiet=True)
            if st and st.get("ready") and st.get("pid") == self.proc.pid:
                return
            time.sleep(0.1)
        raise RuntimeError("dataplane not ready in %ss:\n%s" % (timeout, self.log()))

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stats(self, quiet=False):
        r = run([os.path.join(BUILD_DIR, "tools", "sipreg-stats"), "--json",
                 "--dir", self.dir, "--instance", self.instance], check=False)
        if r.returncode != 0:
            if quiet:
                return None
            raise RuntimeError(r.stdout)
        return json.loads(r.stdout)

    def counter(self, name):
        return self.stats()["counters"][name][0]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process (SIGTERM, then SIGKILL); returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        self.proc = None
        self._remove_hugepage_files()
        return rc

    def _remove_hugepage_files(self):
        prefix = "sipreg-" + self.instance
        for d in ("/dev/hugepages",):
            if os.path.isdir(d):
                for f in os.listdir(d):
                    if f.startswith(prefix):
                        os.unlink(os.path.join(d, f))
        run(["rm", "-rf", "/var/run/dpdk/" + prefix], check=False)

    def _remove_dir(self):
        run(["rm", "-rf", self.dir], check=False)


def mgmt(dp, *requests):
    """Sends JSON requests to dp's management socket (dataplane/mgmt.h);
    returns the answer (several requests: the list of answers)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(os.path.join(dp.state_dir, "dataplane.sock"))
    f = s.makefile("rwb")
    answers = []
    for r in requests:
        f.write((json.dumps(r) + "\n").encode())
        f.flush()
        answers.append(json.loads(f.readline()))
    s.close()
    return answers if len(answers) > 1 else answers[0]


SIPREGCTL = os.path.join(BUILD_DIR, "tools", "sipregctl")
CONTROL = os.path.join(BUILD_DIR, "control", "sipreg-control")


class Control:
    """sipreg-control beside a Dataplane (same state dir, stats file)."""

    def __init__(self, dp):
        self.dp = dp
        self.socket = os.path.join(dp.dir, "control.sock")
        self.log_path = os.path.join(dp.dir, "control.log")
        self.proc = subprocess.Popen(
            [CONTROL, "--state-dir", dp.state_dir, "--stats-dir", dp.dir, "--instance",
             dp.instance, "--socket", self.socket],
            stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT)
        on_cleanup(self.stop)
        # The socket file appears at bind(), before listen(): wait until a
        # connection is accepted.
        def listening():
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(self.socket)
                return True
            except OSError:
                return False
            finally:
                s.close()
        if not wait_for(listening, timeout=5):
            raise RuntimeError("sipreg-control does not listen on %s" % self.socket)

    def ctl(self, *args, fmt=None, check=False):
        """Runs sipregctl; returns (exit code, stdout, stderr)."""
        cmd = [SIPREGCTL, "--socket", self.socket] + ([fmt] if fmt else []) + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr

    def json(self, *args):
        rc, out, err = self.ctl(*args, fmt="--json")
        try:
            return json.loads(out) if out.strip() else {"rc": rc, "stderr": err}
        except ValueError:
            return {"rc": rc, "stdout": out[:300], "stderr": err}

    def rows(self, *args):
        return self.json("list", *args).get("rows", [])

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def baresip_config(account, listen):
    """A baresip configuration directory (removed at cleanup) with one
    account line and its SIP socket on listen ("ip:port"); returns it."""
    cfg = tempfile.mkdtemp(prefix="sipreg-baresip-")
    on_cleanup(lambda: run(["rm", "-rf", cfg], check=False))
    with open(os.path.join(cfg, "accounts"), "w") as f:
        f.write(account + "\n")
    with open(os.path.join(cfg, "config"), "w") as f:
        f.write("sip_listen\t\t%s\n"
                "module_path\t\t/usr/lib/baresip/modules\n"
                "module\t\t\tg711.so\n"        # a codec, or baresip refuses accounts
                "module_app\t\taccount.so\n"   # reads the accounts file
                "module_app\t\tmenu.so\n"      # prints registration results
                % listen)
    return cfg


# --- registrar helpers (accounts, bindings, sipp) ---------------------------

def import_accounts(dp, rows, realm="sipreg.test"):
    """Imports accounts into dp's state dir with tools/sipreg-accounts.
    rows: iterable of tuples in the CSV column order (username, secret,
    account, auth_mode, cidrs, max_bindings, min_expires, max_expires);
    trailing columns may be left out. Returns the tool's output."""
    import csv
    os.makedirs(dp.state_dir, exist_ok=True)
    path = os.path.join(dp.dir, "accounts-%d.csv" % random.randrange(1 << 30))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        for row in rows:
            w.writerow(row)
    return run([os.path.join(BUILD_DIR, "tools", "sipreg-accounts"), "--state-dir", dp.state_dir,
                "--realm", realm, "import", path], timeout=300).stdout


BINDING_COLUMNS = ("aor", "contact", "received", "expires_in_s", "expires_at", "registered_at",
                   "refreshed_at", "cseq", "nat", "call_id", "user_agent", "account", "path",
                   "instance")


def bindings(dp):
    """The bindings checkpointed to LMDB (tools/sipreg-bindings), as a list
    of dicts keyed by BINDING_COLUMNS; numbers are ints. Empty when the
    bindings environment does not exist yet."""
    r = run([os.path.join(BUILD_DIR, "tools", "sipreg-bindings"), "--state-dir", dp.state_dir],
            check=False, timeout=120)
    if r.returncode != 0:
        return []
    out = []
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) < len(BINDING_COLUMNS):
            continue
        b = dict(zip(BINDING_COLUMNS, f))
        for k in ("expires_in_s", "expires_at", "registered_at", "refreshed_at", "cseq"):
            b[k] = int(b[k])
        out.append(b)
    return out


def bindings_by_aor(dp):
    """{aor: [binding, ...]} of bindings(dp)."""
    d = {}
    for b in bindings(dp):
        d.setdefault(b["aor"], []).append(b)
    return d


def wait_for(pred, timeout=2.0, step=0.02):
    """Polls pred() until it returns a true value or timeout; returns the
    last value."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")


class SippResult:
    def __init__(self, rc, output, stats, workdir):
        self.rc = rc
        self.output = output
        self.stats = stats          # last row of -trace_stat, {} if none
        self.workdir = workdir

    def count(self, name):
        """A cumulative counter of the final statistics row, e.g.
        "SuccessfulCall" or "FailedCall" (the "(C)" column)."""
        v = self.stats.get(name + "(C)", "")
        return int(v) if v.strip().isdigit() else -1

    def file(self, suffix):
        """Contents of the sipp output file ending in suffix ("" if none)."""
        for f in os.listdir(self.workdir):
            if f.endswith(suffix):
                with open(os.path.join(self.workdir, f), errors="replace") as fh:
                    return fh.read()
        return ""

    def detail(self):
        return "rc=%s stats=%s\n%s\n%s" % (
            self.rc, {k: v for k, v in self.stats.items()
                      if k.endswith("(C)") and ("Call" in k or "Unexpected" in k or "Retrans" in k)},
            self.output[-1500:], self.file("_errors.log")[-1500:])


def sipp(net, scenario, remote, calls, rate=100, inf=None, source=None, port=0,
         timeout=60, extra=(), keys=None, workdir=None, background=False):
    """Runs sipp in the client namespace: scenario (a file name under
    tests/integration/sipp/ or a path), `calls` calls at `rate` per second,
    against remote ("198.18.0.1:5060" or "[2001:db8::1]:5060"). inf: an
    injection CSV path. source: -i local address. keys: {name: value} for
    -key. Bounded: sipp's own -timeout plus a kill after timeout+10 s.
    Returns SippResult (or, with background=True, (Popen, workdir, finish)
    where finish() waits and returns the SippResult)."""
    workdir = workdir or tempfile.mkdtemp(prefix="sipreg-sipp-")
    on_cleanup(lambda: run(["rm", "-rf", workdir], check=False))
    sf = scenario if os.path.isabs(scenario) else os.path.join(SIPP_DIR, scenario)
    cmd = ["ip", "netns", "exec", net.cli_ns, "sipp", remote, "-sf", sf, "-m", str(calls),
           "-r", str(rate), "-nostdin", "-timeout", "%ds" % timeout,
           "-timeout_error", "-trace_stat", "-stf", os.path.join(workdir, "stat.csv"),
           "-fd", "1", "-trace_err", "-error_file", os.path.join(workdir, "sipp_errors.log"),
           "-max_recv_loops", "10000", "-max_sched_loops", "10000"]
    if inf:
        cmd += ["-inf", inf]
    if source:
        cmd += ["-i", source]
    if port:
        cmd += ["-p", str(port)]
    for k, v in (keys or {}).items():
        cmd += ["-key", k, str(v)]
    cmd += list(extra)
    outpath = os.path.join(workdir, "sipp.out")
    out = open(outpath, "w")
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)

    def stop():
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    on_cleanup(stop)

    def finish():
        try:
            rc = proc.wait(timeout + 10)
        except subprocess.TimeoutExpired:
            stop()
            rc = "killed after %ds" % (timeout + 10)
        out.close()
        with open(outpath, errors="replace") as f:
            output = f.read()
        stats = {}
        try:
            with open(os.path.join(workdir, "stat.csv")) as f:
                lines = [l.rstrip("\n") for l in f if l.strip()]
            if len(lines) >= 2:
                head = lines[0].split(";")
                stats = dict(zip(head, lines[-1].split(";")))
        except OSError:
            pass
        return SippResult(rc, output, stats, workdir)

    if background:
        return proc, workdir, finish
    return finish()
