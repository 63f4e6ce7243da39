#!/usr/bin/env python3
"""pod against `podman kube play`, side by side (bench/run.sh calls this).

Every case runs the same manifest with both tools, several times, and
reports the median, minimum and maximum. A case a tool cannot run is
reported as "n/a: <reason>", never estimated. Everything either tool
creates lives under one temporary directory (pod's --root/--run-root,
podman's --root/--runroot/--tmpdir; both run roots on a tmpfs mounted
there, as /run is) and is removed at the end, also on
failure or Ctrl-C. No traffic leaves loopback: images are imported from
the host's busybox-static and pulls go to a registry on 127.0.0.1.

Standard library only.
"""

import argparse
import ctypes
import datetime
import fcntl
import gzip
import hashlib
import io
import json
import os
import platform
import shlex
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request

MIB = 1024 * 1024
GIB = 1024 * MIB
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_REF = "docker.io/library/busybox:latest"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Both tools get this registries.conf: a pull that should never happen
# (an image thought present but not) fails instead of leaving loopback.
BLOCK_DOCKER_HUB = """unqualified-search-registries = []

[[registry]]
prefix = "docker.io"
location = "docker.io"
blocked = true
"""


def registries_conf(path, extra=""):
    with open(path, "w") as f:
        f.write(BLOCK_DOCKER_HUB + extra)
    return path


class NotApplicable(Exception):
    """A case that cannot run with a tool; the reason is printed as n/a."""


class CommandFailed(Exception):
    def __init__(self, argv, code, stderr):
        lines = [l.strip() for l in (stderr or "").splitlines() if l.strip()]
        errors = [l for l in lines if l.lower().startswith("error")]
        detail = (errors or lines or [f"exit status {code}"])[0]
        words = [a for a in argv[1:] if not a.startswith("-") and "/" not in a][:2]
        super().__init__(f"{os.path.basename(argv[0])} {' '.join(words)}: {detail}")


# ---------------------------------------------------------------- processes

# The bench is a child subreaper: podman's conmon double-forks and pod's
# supervisor outlives the `pod create` that started it, and where PID 1
# does not reap (as in this VM) they would stay zombies once they exit
# (and a zombie still answers kill(pid, 0)). A reaper thread collects
# every exited child that is not one of the bench's own commands, which
# `spawn` registers under REAP_LOCK so the reaper never steals their
# exit status.
REAP_LOCK = threading.Lock()
OWNED = set()


def become_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except OSError:
        return
    threading.Thread(target=reaper, daemon=True).start()


def reaper():
    while True:
        with REAP_LOCK:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info and info.si_pid not in OWNED:
                try:
                    os.waitpid(info.si_pid, 0)
                except ChildProcessError:
                    pass
                continue
        time.sleep(0.005)


def spawn(argv, **kwargs):
    with REAP_LOCK:
        proc = subprocess.Popen(argv, **kwargs)
        OWNED.add(proc.pid)
    return proc


def finish(proc, timeout=None, input=None):
    """communicate() with a spawned process, then forget it."""
    try:
        return proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    finally:
        OWNED.discard(proc.pid)


def reap_orphans():
    """Kept as a marker of the points where orphans appear; the reaper
    thread does the work."""


def pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def read_stat(pid):
    """(state, ppid, utime+stime seconds) of a process, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().rstrip("\n")
    except OSError:
        return ""


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def environ_has(pid, entry):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return entry.encode() in f.read().split(b"\0")
    except OSError:
        return False


def memory_kib(pid):
    """(RSS, PSS) in KiB from smaps_rollup."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def rollup_kib(pid):
    """{"Rss", "Pss", "Uss"} in KiB from smaps_rollup (Uss: the process's
    private pages, clean and dirty), or None if the process is gone."""
    out = {"Rss": 0, "Pss": 0, "Uss": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    out[key] = int(rest.split()[0])
                elif key in ("Private_Clean", "Private_Dirty"):
                    out["Uss"] += int(rest.split()[0])
    except OSError:
        return None
    return out


def meminfo():
    """/proc/meminfo in bytes."""
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            out[key] = int(rest.split()[0]) * (1024 if rest.strip().endswith("kB") else 1)
    return out


# The kernel's memory of the host that a pod can grow, from /proc/meminfo:
# slab it cannot reclaim (namespaces, cgroups, mounts, sockets, inodes of
# tmpfs and overlay), kernel stacks (16 KiB a thread), page tables and the
# per-CPU allocations (memory cgroups' statistics, mostly).
KERNEL_FIELDS = ("SUnreclaim", "KernelStack", "PageTables", "Percpu")


def footprint(pid):
    """Bytes of a process that count against MemAvailable whoever it is:
    anonymous and shared-memory pages, page tables, a kernel stack per
    thread."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return 0
    kib = sum(int(fields[k].split()[0]) for k in ("RssAnon", "RssShmem", "VmPTE") if k in fields)
    return kib * 1024 + int(fields.get("Threads", "0").strip() or 0) * 16 * 1024


def memory_snapshot(exclude):
    """MemAvailable (median of five reads over half a second, so that one
    read caught mid-reclaim does not decide), the kernel fields, and the
    footprint of every process not in `exclude` (the machine is shared:
    what other processes grow or free moves MemAvailable too)."""
    avail = []
    for _ in range(5):
        avail.append(meminfo()["MemAvailable"])
        time.sleep(0.1)
    info = meminfo()
    me = os.getpid()
    others = sum(footprint(p) for p in pids() if p not in exclude and p != me)
    return {"available": statistics.median(avail), "kernel": {k: info.get(k, 0) for k in KERNEL_FIELDS}, "others": others}


def children_map():
    kids = {}
    for pid in pids():
        stat = read_stat(pid)
        if stat:
            kids.setdefault(stat[1], []).append(pid)
    return kids


def descendants(pid, kids):
    out = []
    todo = list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def run(argv, env=None, timeout=600, check=True):
    proc = spawn(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = finish(proc, timeout=timeout)
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, stderr)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def timed(argv, env=None, timeout=600):
    t0 = time.perf_counter()
    run(argv, env=env, timeout=timeout)
    return time.perf_counter() - t0


def timed_cpu(argv, env=None):
    """Wall seconds and CPU seconds (user + system, from wait4's rusage) of
    one command whose output is discarded. CPU time hardly moves when other
    work shares the machine; wall time does."""
    t0 = time.perf_counter()
    proc = spawn(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
    finally:
        OWNED.discard(proc.pid)
    if proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, err)
    return wall, usage.ru_utime + usage.ru_stime


def poll(what, predicate, timeout, interval=0.0):
    """Calls predicate until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise NotApplicable(f"timed out after {timeout:g} s waiting for {what}")
        if interval:
            time.sleep(interval)


# ---------------------------------------------------------------- manifests


def container(name, command, **extra):
    c = {"name": name, "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": command}
    c.update(extra)
    return c


def pod_manifest(name, containers, **spec):
    # Every bench pod shares its PID namespace: no container is PID 1, so
    # `sleep` and `httpd` end on SIGTERM as the delete case requires.
    body = {"shareProcessNamespace": True, "containers": containers}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


def seed_pod(name):
    """The seed's shape (samples/nginx-shell.yaml): a server and a shell
    with stdin and a tty, sharing a PID namespace. The shell runs `sleep`
    because an interactive sh ignores SIGTERM and would turn the delete
    case into a grace-period timer."""
    return pod_manifest(
        name,
        [
            container(
                "nginx",
                ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www"],
            ),
            container("shell", ["sleep", "86400"], stdin=True, tty=True),
        ],
    )


def sleepers_pod(name, count):
    return pod_manifest(name, [container(f"c{i}", ["sleep", "86400"]) for i in range(count)])


def logger_pod(name, size):
    line = "0123456789" * 10  # 100 characters and a newline
    script = f"yes {line} | head -c {size}"
    return pod_manifest(name, [container("logger", ["sh", "-c", script])], restartPolicy="Never")


def write_manifests(path, manifests):
    # JSON is YAML: both tools read it.
    with open(path, "w") as f:
        f.write("\n---\n".join(json.dumps(m) for m in manifests) + "\n")
    return path


# ---------------------------------------------------------------- busybox image


def busybox_rootfs_tar(path):
    """A rootfs tarball from the host's static busybox: the binary, one
    symlink per applet, /etc/passwd and /etc/group."""
    busybox = shutil.which("busybox")
    if not busybox:
        sys.exit("bench: busybox is missing (apt-get install -y busybox-static)")
    applets = run([busybox, "--list"]).stdout.split()
    with tarfile.open(path, "w") as tar:

        def add_dir(name, mode=0o755):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name, data, mode=0o644):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        # The layout of scripts/make-busybox-image.sh.
        for d in ["bin", "dev", "etc", "home", "proc", "sys", "usr", "var"]:
            add_dir(d)
        add_dir("root", 0o700)
        add_dir("tmp", 0o1777)
        with open(busybox, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for applet in applets:
            if applet != "busybox":
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
                tar.addfile(info)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
        add_file("etc/group", b"root:x:0:\nnobody:x:65534:\n")
    return path


# ---------------------------------------------------------------- tools


# What pod's default network makes on the host once for the node and keeps
# while it runs, as the CNI bridge plugin keeps its bridge
# (src/network/bridge/): the bridge, and a masquerade rule per pod subnet
# in the nat table's POSTROUTING, commented "pod network pod0 <subnet>".
# Its node-wide address index and lock live in BRIDGE_NODE.
BRIDGE = "pod0"
BRIDGE_NODE = "/run/pod-network/" + BRIDGE


def bridge_exists():
    return os.path.exists(os.path.join("/sys/class/net", BRIDGE))


def masquerade_rules():
    """pod's masquerade rules for the bridge, as `iptables -S` prints them."""
    out = run(["iptables", "-w", "-t", "nat", "-S", "POSTROUTING"], check=False)
    return {line for line in out.stdout.splitlines() if f'"pod network {BRIDGE} ' in line}


class HostNetwork:
    """What of pod's default network was on the host before the bench, so
    that the bench takes away what its own pods made there and nothing
    that was there before it."""

    def __init__(self):
        self.bridge = bridge_exists()
        self.rules = masquerade_rules()

    def restore(self, own_root):
        """Deletes the bridge and the masquerade rules the bench's run made,
        unless a pod of another state root than `own_root` on this node (a
        test beside the bench) holds an address: under the node's lock that every address
        is taken with, so no pod is being given one meanwhile; a pod that
        comes after makes the bridge and its rule again."""
        made_bridge = not self.bridge and bridge_exists()
        made_rules = sorted(masquerade_rules() - self.rules)
        if not made_bridge and not made_rules:
            return
        os.makedirs(os.path.join(BRIDGE_NODE, "leases"), mode=0o700, exist_ok=True)
        with open(os.path.join(BRIDGE_NODE, "lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            leases = os.path.join(BRIDGE_NODE, "leases")
            # An entry is a link to the lease holding its address; one whose
            # lease is gone is free, and so is one of the bench's own root,
            # removed next.
            held = [
                e
                for e in os.scandir(leases)
                if e.is_symlink() and os.path.exists(e.path) and not os.path.realpath(e.path).startswith(own_root + "/")
            ]
            if held:
                print(f"bench: {BRIDGE} kept: {len(held)} addresses on it are held by pods of other state roots", file=sys.stderr)
                return
            if made_bridge:
                run(["ip", "link", "delete", BRIDGE])
            for rule in made_rules:
                words = shlex.split(rule)
                run(["iptables", "-w", "-t", "nat", "-D"] + words[1:])
                # The mark that the rule was seen in place (keyed by the
                # ruleset's generation, which the delete changed anyway).
                subnet = words[words.index("-s") + 1]
                marker = os.path.join(BRIDGE_NODE, "masquerade." + subnet.replace("/", "_"))
                if os.path.exists(marker):
                    os.remove(marker)
        what = ([f"the {BRIDGE} bridge"] if made_bridge else []) + [f"{len(made_rules)} masquerade rule(s)"] * bool(made_rules)
        print(f"bench: removed {' and '.join(what)} the run made", file=sys.stderr)


class Pod:
    label = "pod"

    def __init__(self, binary, work, run, max_pods):
        self.binary = os.path.realpath(binary)
        self.root = os.path.join(work, "pod-root")
        self.run_root = os.path.join(run, "pod-run")
        conf = registries_conf(os.path.join(work, "pod-registries.conf"))
        # Each network ADD and DEL appends its own time here (see
        # POD_NETWORK_TIMES in src/network/mod.rs): case 10d/10e.
        self.times = os.path.join(work, "pod-network-times.jsonl")
        self.env = dict(
            os.environ,
            POD_ROOT=self.root,
            POD_RUN_ROOT=self.run_root,
            POD_REGISTRIES_CONF=conf,
            POD_NETWORK_TIMES=self.times,
        )
        # A CNI configuration directory of the bench's own, empty: pod uses
        # its default network (bridge pod0, built in over netlink), and the
        # host's /etc/cni/net.d (podman's 87-podman-bridge.conflist, for
        # one) never decides. pod has no network-less pods: a list giving
        # eth0 no address is refused, as containerd refuses it.
        self.host_network = HostNetwork()
        cni = os.path.join(work, "pod-cni")
        os.makedirs(cni)
        os.makedirs(self.root)
        # The kubelet's memory threshold and no disk one: a bench machine
        # short of disk (under the kubelet's 15%) would refuse every pod
        # with DiskPressure, which podman does not check. maxPods: room
        # for the most pods a case runs at once (the kubelet's 110 left
        # case 5b's 500 pods past the 110th Pending, "Too many pods").
        with open(os.path.join(self.root, "config.yaml"), "w") as f:
            f.write(
                f"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncniConfDir: {cni}\n"
                f"evictionHard:\n  memory.available: 100Mi\nmaxPods: {max_pods}\n"
            )

    def use_network(self, on):
        """pod's pods always have its network."""

    def addresses(self, names):
        """status.podIP of each named pod."""
        return [p.get("status", {}).get("podIP", "") for p in self.pods() if p["metadata"]["name"] in names]

    def network_times(self, uids):
        """The ADD and DEL times (seconds) pod noted for the pods `uids`,
        and which network made them ("builtin" or "cni")."""
        adds, dels, kinds = [], [], set()
        try:
            with open(self.times) as f:
                lines = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            lines = []
        for line in lines:
            if line.get("uid") in uids:
                (adds if line["op"] == "ADD" else dels).append(line["seconds"])
                kinds.add(line.get("network"))
        return adds, dels, ",".join(sorted(k for k in kinds if k))

    def attachment(self):
        """One cached attachment of the bench's pods (libcni's cache layout
        under the state root): for a CNI network, the list ADD ran and its
        plugin directories; for the built-in network, its own record."""
        cache = os.path.join(self.root, "cni", "results")
        for name in sorted(os.listdir(cache)) if os.path.isdir(cache) else []:
            with open(os.path.join(cache, name)) as f:
                return json.load(f)
        raise NotApplicable(f"no CNI attachment cached in {cache}")

    def version(self):
        return run([self.binary, "version"], env=self.env, check=False).stdout.strip()

    def revision(self):
        """The commit the binary was built from, as it says itself (a
        release build names it: `pod version -o json`, gitCommit and
        gitTreeState), not the revision of the tree the bench runs from:
        `--pod` may name a binary built elsewhere, or before the last
        commit."""
        out = run([self.binary, "version", "-o", "json"], env=self.env, check=False).stdout
        try:
            client = json.loads(out).get("clientVersion", {})
        except ValueError:
            client = {}
        commit = client.get("gitCommit")
        if not commit:
            # A debug build, or one made before binaries named their commit.
            return "unknown"
        return commit + ("-dirty" if client.get("gitTreeState") == "dirty" else "")

    def cmd(self, *args):
        return [self.binary, *args]

    def import_image(self, tarball):
        run(self.cmd("image", "import", "--change", 'CMD ["sh"]', "--change", f"ENV {PATH_ENV}", tarball, BUSYBOX_REF), env=self.env)

    def create_argv(self, manifest):
        return self.cmd("create", "-f", manifest)

    def pods(self):
        out = run(self.cmd("get", "pods", "-o", "json"), env=self.env).stdout
        return json.loads(out).get("items", [])

    def pod(self, name):
        proc = run(self.cmd("get", "pod", name, "-o", "json"), env=self.env, check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    # Waiting reasons after which waiting longer is pointless.
    STUCK = {
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "StartError",
        "CrashLoopBackOff",
    }

    @classmethod
    def is_running(cls, obj):
        status = (obj or {}).get("status") or {}
        statuses = status.get("containerStatuses") or []
        for s in statuses:
            waiting = (s.get("state") or {}).get("waiting") or {}
            terminated = (s.get("state") or {}).get("terminated") or {}
            if waiting.get("reason") in cls.STUCK or terminated:
                why = waiting or terminated
                raise NotApplicable(
                    f"pod {obj['metadata']['name']} container {s.get('name')}: "
                    f"{why.get('reason', 'terminated')} {why.get('message', '')}".strip()
                )
        wanted = len(obj["spec"]["containers"]) if obj else 0
        return (
            status.get("phase") == "Running"
            and len(statuses) == wanted
            and all("running" in (s.get("state") or {}) for s in statuses)
        )

    def running(self, name):
        return self.is_running(self.pod(name))

    def wait_argv(self, name, timeout):
        """kubectl's idiom after a create: wait until the pod is Ready."""
        return self.cmd("wait", "--for=condition=Ready", f"pod/{name}", f"--timeout={timeout:g}s")

    def running_count(self, names):
        return sum(1 for p in self.pods() if p["metadata"]["name"] in names and self.is_running(p))

    def started(self, name):
        obj = self.pod(name) or {}
        statuses = (obj.get("status") or {}).get("containerStatuses") or []
        for st in statuses:
            reason = ((st.get("state") or {}).get("waiting") or {}).get("reason")
            if reason in self.STUCK:
                raise NotApplicable(f"pod {name} container {st.get('name')}: {reason}")
        return any({"running", "terminated"} & set(st.get("state") or {}) for st in statuses)

    def terminated(self, name):
        obj = self.pod(name) or {}
        statuses = (obj.get("status") or {}).get("containerStatuses") or []
        return bool(statuses) and all("terminated" in (s.get("state") or {}) for s in statuses)

    def delete_argv(self, manifest, name):
        return self.cmd("delete", "pod", name)

    def list_argv(self):
        return self.cmd("get", "pods")

    def exec_argv(self, name, ctr):
        return self.cmd("exec", name, "-c", ctr, "--", "true")

    def delete_all(self):
        run(self.cmd("delete", "pods", "--all", "--force", "--grace-period=0"), env=self.env, check=False, timeout=300)

    def helpers(self):
        """The bench's pod keepers and supervisors: the bench's pod binary,
        re-executed, with the bench's state root in its environment (the
        supervisor is forked by its keeper, which renames itself)."""
        marker = f"POD_ROOT={self.root}"
        me = os.getpid()
        return [p for p in pids() if p != me and exe(p).removesuffix(" (deleted)") == self.binary and cmdline(p)[:1] != ["/pause"] and environ_has(p, marker)]

    def process_kinds(self):
        """{kind: pids} of every process pod keeps per pod, in the order
        of `kinds`."""
        helpers = self.helpers()
        kids = children_map()
        keepers = [p for p in helpers if comm(p) == "pod-keeper"]
        sups = [p for p in helpers if p not in keepers]
        pause = [p for s in sups for p in descendants(s, kids) if cmdline(p)[:1] == ["/pause"]]
        return {"supervisor": sups, "keeper": keepers, "pause": pause}

    def pod_host_processes(self, name):
        """(supervisors and keepers, pause processes) of the bench's running
        pods; the memory cases run one pod at a time, so these are that
        pod's."""
        kinds = self.process_kinds()
        return kinds["supervisor"] + kinds["keeper"], kinds["pause"]

    # The kinds of process pod keeps per pod, as process_kinds returns
    # them: the first is 11e's, the second 11h's, the last 11f's.
    kinds = ("supervisor", "keeper", "pause")

    def all_processes(self):
        """Every process of the bench's pods: keepers, supervisors and all
        they started (pause, containers)."""
        helpers = self.helpers()
        kids = children_map()
        return set(helpers) | {p for s in helpers for p in descendants(s, kids)}

    def pull_argv(self, ref):
        return self.cmd("image", "pull", ref)

    def pull_env(self, root, registries_conf):
        return dict(self.env, POD_ROOT=root, POD_RUN_ROOT=root + "-run", POD_REGISTRIES_CONF=registries_conf)

    def cleanup(self):
        if os.path.isdir(self.root):
            self.delete_all()
        for pid in self.all_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.host_network.restore(os.path.realpath(self.root))


class Podman:
    label = "podman"

    def __init__(self, work, network, run):
        self.work = work
        self.network = network
        self.default_network = network
        self.root = os.path.join(work, "podman-root")
        self.run_root = os.path.join(run, "podman-run")
        self.tmpdir = os.path.join(work, "podman-tmp")
        conf = os.path.join(work, "containers.conf")
        self.runtime = "runc" if shutil.which("runc") else "crun"
        with open(conf, "w") as f:
            f.write(self.containers_conf())
        self.env = dict(
            os.environ,
            CONTAINERS_CONF=conf,
            CONTAINERS_REGISTRIES_CONF=registries_conf(os.path.join(work, "podman-registries.conf")),
        )

    def containers_conf(self):
        # podman asks for 1048576 open files and processes, which a root
        # without CAP_SYS_RESOURCE (a container or VM like this one) cannot
        # grant, and podman itself caps its own nproc at 32768; ask for
        # what the bench's limits allow. crun refuses cgroup v1 hybrid
        # set-ups with controllers enabled in the v2 tree; runc does not.
        import resource

        nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1048576)
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
        return (
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            "[engine]\n"
            f'runtime = "{self.runtime}"\n'
            'events_logger = "file"\n'
        )

    def version(self):
        v = run(self.podman("version", "--format", "{{.Client.Version}}"), env=self.env).stdout.strip()
        rt = run([self.runtime, "--version"], check=False).stdout.splitlines()
        return f"{v} ({rt[0] if rt else self.runtime}, network {self.network})"

    def podman(self, *args, root=None, run_root=None):
        return [
            "podman",
            "--root",
            root or self.root,
            "--runroot",
            run_root or self.run_root,
            "--tmpdir",
            self.tmpdir,
            "--cgroup-manager=cgroupfs",
            *args,
        ]

    def import_image(self, tarball):
        run(self.podman("import", "--change", 'CMD ["sh"]', "--change", f"ENV {PATH_ENV}", tarball, BUSYBOX_REF), env=self.env)

    def create_argv(self, manifest):
        return self.podman("kube", "play", "--network", self.network, manifest)

    def use_network(self, on):
        """podman's default network (`bridge`: its CNI bridge on Debian 12),
        or the bench's --podman-network setting."""
        self.network = "bridge" if on else self.default_network

    def addresses(self, names):
        """The address of each named pod's infra container."""
        infra = []
        for name in names:
            out = run(self.podman("pod", "inspect", name, "--format", "{{.InfraContainerID}}"), env=self.env).stdout
            infra.append(out.strip())
        data = json.loads(run(self.podman("inspect", "--format", "json", *infra), env=self.env).stdout or "[]")
        found = []
        for c in data:
            settings = c.get("NetworkSettings") or {}
            ips = [n.get("IPAddress", "") for n in (settings.get("Networks") or {}).values()]
            found.append(next((ip for ip in ips if ip), settings.get("IPAddress", "")))
        return found

    def wait_argv(self, name, timeout):
        """None: `kube play` returns once the containers are started."""
        return None

    def running(self, name):
        proc = run(self.podman("pod", "inspect", name, "--format", "{{.State}}"), env=self.env, check=False)
        return proc.returncode == 0 and proc.stdout.strip() == "Running"

    def running_count(self, names):
        out = run(self.podman("pod", "ps", "--format", "json"), env=self.env).stdout
        return sum(1 for p in json.loads(out or "[]") if p["Name"] in names and p["Status"] == "Running")

    def started(self, name):
        proc = run(self.podman("pod", "inspect", name, "--format", "{{.State}}"), env=self.env, check=False)
        return proc.returncode == 0 and proc.stdout.strip() in ("Running", "Degraded", "Exited", "Stopped")

    def terminated(self, name):
        proc = run(self.podman("pod", "inspect", name, "--format", "{{.State}}"), env=self.env, check=False)
        return proc.returncode == 0 and proc.stdout.strip() in ("Exited", "Stopped")

    def delete_argv(self, manifest, name):
        return self.podman("kube", "down", manifest)

    def list_argv(self):
        return self.podman("pod", "ps")

    def exec_argv(self, name, ctr):
        return self.podman("exec", f"{name}-{ctr}", "true")

    def delete_all(self):
        run(self.podman("pod", "rm", "--all", "--force", "--time", "0"), env=self.env, check=False, timeout=600)

    def conmons(self):
        marker = self.root
        return [p for p in pids() if os.path.basename(exe(p)) == "conmon" and any(marker in a for a in cmdline(p))]

    def pod_host_processes(self, name):
        """(conmons, catatonit) of the bench's running pods."""
        conmons = self.conmons()
        kids = children_map()
        catatonit = [k for c in conmons for k in kids.get(c, []) if "catatonit" in os.path.basename(exe(k))]
        return conmons, catatonit

    kinds = ("conmon", "catatonit")

    def process_kinds(self):
        conmons, catatonit = self.pod_host_processes(None)
        return {"conmon": conmons, "catatonit": catatonit}

    def all_processes(self):
        """Every process of the bench's pods: conmons and all they started
        (catatonit, containers)."""
        conmons = self.conmons()
        kids = children_map()
        return set(conmons) | {p for c in conmons for p in descendants(c, kids)}

    def pull_argv(self, ref, root=None):
        return self.podman("pull", "--tls-verify=false", ref, root=root, run_root=root and root + "-run")

    def cleanup(self):
        if not os.path.isdir(self.root):
            return
        self.delete_all()
        run(self.podman("rmi", "--all", "--force"), env=self.env, check=False)
        for pid in self.conmons():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------- cases


def stats(samples):
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }


class Served:
    """`pod serve` over the bench's pod state, and kubectl pointed at it
    through the kubeconfig `pod kubeconfig` writes (cases 5c and 12)."""

    def __init__(self, tool, work):
        if not isinstance(tool, Pod):
            raise NotApplicable("podman serves no Kubernetes API")
        if not shutil.which("kubectl"):
            raise NotApplicable("kubectl is not installed")
        self.proc = spawn(
            tool.cmd("serve", "--port", "0"), env=tool.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        line = read_line(self.proc.stdout, 120)
        if not line.startswith("Serving the Kubernetes API on "):
            self.stop()
            raise NotApplicable(f"pod serve said {line!r}")
        # A directory of each server's own: `pod kubeconfig` does not
        # overwrite a file, and each server has its port.
        own = tempfile.mkdtemp(prefix="served-", dir=work)
        self.kubeconfig = os.path.join(own, "kubeconfig")
        self.cache = os.path.join(own, "kube-cache")
        run(tool.cmd("kubeconfig", self.kubeconfig), env=tool.env)

    def kubectl(self, *args):
        return ["kubectl", "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache, *args]

    def stop(self):
        self.proc.kill()
        finish(self.proc)


def read_line(pipe, timeout):
    """The next line of a binary pipe, as text ("" at its end), read a
    byte at a time so nothing is left buffered past it; NotApplicable
    after `timeout` seconds without one."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([pipe], [], [], left)[0]:
            raise NotApplicable(f"timed out after {timeout:g} s waiting for a line (got {line!r})")
        byte = os.read(pipe.fileno(), 1)
        if not byte:
            break
        line += byte
    return line.decode(errors="replace")


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.manifests = os.path.join(work, "manifests")
        os.makedirs(self.manifests)
        self.counter = 0

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def manifest(self, name, obj):
        return write_manifests(os.path.join(self.manifests, f"{name}.yaml"), [obj])

    def create_and_wait(self, tool, name, manifest, timeout=None, clock="wait"):
        """Seconds from starting the create command to the pod running,
        by one of two clocks.

        "wait" (every case but the -polled ones): as a user waits for it.
        pod: `pod create -f X && pod wait --for=condition=Ready pod/NAME`,
        kubectl's idiom (the wait wakes on the store's change); the clock
        stops when `pod wait` exits. podman: `kube play` returns once the
        containers are started; the clock stops there. Then both tools'
        pods are checked Running (every container running) by one read
        that is not timed; a podman pod not Running yet is read again
        back to back, the clock going on, as the polled clock does.

        "polled" (1-polled and 10a-polled, the bench's only clock before):
        the clock stops at the end of the first of back-to-back status
        reads (pod: `pod get pod NAME -o json`, a fresh CLI process each,
        no pause) that shows every container running; podman's `kube
        play` returns once the containers are started and a following
        read that confirms it does not count. pod's create returns before
        the containers run, so its clock includes those reads, which keep
        one of the machine's cores busy while the measured start, itself
        bound by CPU, runs beside them."""
        timeout = timeout or self.args.timeout
        wait = tool.wait_argv(name, timeout) if clock == "wait" else None
        t0 = time.perf_counter()
        run(tool.create_argv(manifest), env=tool.env, timeout=timeout)
        if wait:
            run(wait, env=tool.env, timeout=timeout + 10)
        t_returned = time.perf_counter()
        if tool.running(name):
            if wait or isinstance(tool, Podman):
                return t_returned - t0
            return time.perf_counter() - t0
        if wait:
            raise NotApplicable(f"{name} was Ready but not every container read running")
        poll(f"{name} to run", lambda: tool.running(name), timeout)
        return time.perf_counter() - t0

    def warm_up(self, tool):
        """One create and delete of the seed pod that is not counted,
        before a case that clocks single creates (as case 11 has): the
        tool's binaries and libraries come into the page cache, and
        podman builds its pause image on its first kube play."""
        name = self.fresh("warm")
        manifest = self.manifest(name, seed_pod(name))
        self.create_and_wait(tool, name, manifest)
        run(tool.delete_argv(manifest, name), env=tool.env, timeout=120)
        reap_orphans()

    # 1 and 2 run together: each iteration creates the seed pod, then
    # deletes it.
    def case_create_delete(self, tool):
        """1 and 1-polled: the same create, clocked both ways (one pod
        each, the order alternating from one run to the next); 2: the
        delete of the pod clocked by the wait."""
        create, polled, delete = [], [], []
        self.warm_up(tool)
        for i in range(self.args.runs):
            for clock in ("wait", "polled") if i % 2 == 0 else ("polled", "wait"):
                name = self.fresh("seed")
                manifest = self.manifest(name, seed_pod(name))
                took = self.create_and_wait(tool, name, manifest, clock=clock)
                (create if clock == "wait" else polled).append(took)
                deleted = timed(tool.delete_argv(manifest, name), env=tool.env, timeout=120)
                if clock == "wait":
                    delete.append(deleted)
                reap_orphans()
        return {"1": stats(create), "1-polled": stats(polled), "2": stats(delete)}

    def case_four(self, tool):
        samples = []
        for _ in range(self.args.runs):
            name = self.fresh("four")
            manifest = self.manifest(name, sleepers_pod(name, 4))
            samples.append(self.create_and_wait(tool, name, manifest))
            run(tool.delete_argv(manifest, name), env=tool.env, timeout=120)
            reap_orphans()
        return {"3": stats(samples)}

    def wait_all(self, tool, names, timeout):
        poll(f"{len(names)} pods to run", lambda: tool.running_count(names) == len(names), timeout, 0.05)

    def case_many(self, tool):
        n = self.args.many
        out = {}
        # One after another: each create starts when the previous returned.
        names = {self.fresh("seq") for _ in range(n)}
        files = [self.manifest(nm, seed_pod(nm)) for nm in sorted(names)]
        t0 = time.perf_counter()
        for f in files:
            run(tool.create_argv(f), env=tool.env, timeout=300)
        self.wait_all(tool, names, self.args.timeout + n)
        out["4a"] = stats([time.perf_counter() - t0])
        tool.delete_all()
        reap_orphans()
        # At once: every create command started together.
        names = {self.fresh("par") for _ in range(n)}
        out["4b"] = stats([self.create_at_once(tool, names)])
        tool.delete_all()
        reap_orphans()
        return out

    def create_at_once(self, tool, names):
        """Seconds from starting one create per pod, all together, until
        every pod runs."""
        files = [self.manifest(nm, seed_pod(nm)) for nm in sorted(names)]
        t0 = time.perf_counter()
        procs = [
            spawn(tool.create_argv(f), env=tool.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for f in files
        ]
        failed = None
        for p in procs:
            _, err = finish(p, timeout=600)
            if p.returncode != 0 and not failed:
                failed = CommandFailed(p.args, p.returncode, err)
        if failed:
            raise failed
        self.wait_all(tool, names, self.args.timeout + len(names))
        return time.perf_counter() - t0

    # 10: the pod network on. pod's default network (bridge pod0, built
    # in over netlink, portmap through CNI only for host ports) against
    # podman's default (its CNI bridge cni-podman0).
    def case_network(self, tool):
        tool.use_network(True)
        try:
            out = {}
            create, polled, delete = [], [], []
            attachment = None
            uids = set()
            self.warm_up(tool)
            for i in range(self.args.runs):
                # As case 1: both clocks, the delete (10b) of the pod the
                # wait clocked; 10d and 10e are the network's part of those.
                for clock in ("wait", "polled") if i % 2 == 0 else ("polled", "wait"):
                    name = self.fresh("net")
                    manifest = self.manifest(name, seed_pod(name))
                    took = self.create_and_wait(tool, name, manifest, clock=clock)
                    if not any(tool.addresses({name})):
                        raise NotApplicable(f"pod {name} runs without an address")
                    if clock == "polled":
                        polled.append(took)
                        run(tool.delete_argv(manifest, name), env=tool.env, timeout=120)
                        reap_orphans()
                        continue
                    create.append(took)
                    if isinstance(tool, Pod):
                        uids.add(tool.pod(name)["metadata"]["uid"])
                        if attachment is None:
                            attachment = tool.attachment()
                    delete.append(timed(tool.delete_argv(manifest, name), env=tool.env, timeout=120))
                    reap_orphans()
            out["10a"] = stats(create)
            out["10a-polled"] = stats(polled)
            out["10b"] = stats(delete)
            n = self.args.many
            names = {self.fresh("netpar") for _ in range(n)}
            out["10c"] = stats([self.create_at_once(tool, names)])
            distinct = len({ip for ip in tool.addresses(names) if ip})
            out["10c"]["distinct_addresses"] = distinct
            if distinct != n:
                out["10c"]["note"] = f"{distinct} distinct addresses for {n} pods"
            tool.delete_all()
            reap_orphans()
            if isinstance(tool, Pod):
                # The network's own ADD and DEL, as pod ran them in 10a/10b.
                add, dele, kind = tool.network_times(uids)
                if not add or not dele:
                    raise NotApplicable(f"pod noted no network times in {tool.times}")
                out["10d"], out["10e"] = stats(add), stats(dele)
                out["10d"]["network"] = out["10e"]["network"] = kind
                if attachment is not None and attachment.get("kind") == "cniCacheV1":
                    # A CNI network: each plugin's part, run apart.
                    _, _, each = plugin_times(attachment, self.args.runs)
                    out["10d"]["plugins"] = {k: v for k, v in each.items() if k.endswith("ADD")}
                    out["10e"]["plugins"] = {k: v for k, v in each.items() if k.endswith("DEL")}
            else:
                why = "not measured: it would run podman's network plugins outside podman"
                out["10d"] = out["10e"] = {"na": why}
            return out
        finally:
            tool.use_network(False)

    def case_list(self, tool, image_ok):
        """`get pods` with N pods stored, and (pod only) N pods running at
        once. pod's create starts every pod it stores; podman's pods are
        created with `kube play --start=false`, stored but not running,
        which is the cheaper listing for podman. Without an image, pod's
        pods are stored with imagePullPolicy Never and stay waiting."""
        n = self.args.stored
        names = [self.fresh("stored") for _ in range(n)]
        manifests = [seed_pod(nm) for nm in names]
        if not image_ok:
            for m in manifests:
                for c in m["spec"]["containers"]:
                    c["imagePullPolicy"] = "Never"
        path = write_manifests(os.path.join(self.manifests, f"stored-{n}.yaml"), manifests)
        argv = tool.create_argv(path)
        if isinstance(tool, Podman):
            argv = argv[:-1] + ["--start=false", path]
        t0 = time.perf_counter()
        run(argv, env=tool.env, timeout=1800)
        out = {}
        if isinstance(tool, Pod):
            if not image_ok:
                out["5b"] = {"na": "no busybox image to run the pods with"}
            else:
                try:
                    self.wait_all(tool, set(names), self.args.timeout + n)
                    out["5b"] = stats([time.perf_counter() - t0])
                    time.sleep(1)
                    rss = pss = 0
                    helpers, infra = tool.pod_host_processes(None)
                    for pid in helpers + infra:
                        r, p = memory_kib(pid)
                        rss, pss = rss + r, pss + p
                    out["5b-pss"] = stats([pss * 1024 / n])
                    out["5b-pss"]["processes"] = f"{len(helpers)} + {len(infra)}"
                except NotApplicable as e:
                    out["5b"] = {"na": f"{e} ({tool.running_count(set(names))} running)"}
        else:
            out["5b"] = {"na": f"not measured: the bench stores podman's {n} pods without starting them"}
        out.setdefault("5b-pss", {"na": out["5b"].get("na", "")})
        list_argv = tool.list_argv()
        lines = run(list_argv, env=tool.env).stdout.strip().splitlines()
        if len(lines) != n + 1:
            raise NotApplicable(f"expected {n} pods listed, got {len(lines) - 1}")
        run(list_argv, env=tool.env)  # warm the page cache
        walls, cpus = [], []
        for _ in range(self.args.list_runs):
            wall, cpu = timed_cpu(list_argv, env=tool.env)
            walls.append(wall)
            cpus.append(cpu)
        out["5"] = stats(walls)
        out["5-cpu"] = stats(cpus)
        out["5c"] = self.kubectl_list(tool, n)
        tool.delete_all()
        reap_orphans()
        return out

    def kubectl_list(self, tool, n):
        """5c: `kubectl get pods` against `pod serve` with the same n pods
        stored, whole kubectl processes (its discovery cached, as a
        user's kubectl has it after its first command)."""
        try:
            served = Served(tool, self.work)
        except (NotApplicable, CommandFailed) as e:
            return {"na": str(e)}
        try:
            argv = served.kubectl("get", "pods")
            lines = run(argv).stdout.strip().splitlines()
            if len(lines) != n + 1:
                return {"na": f"expected {n} pods listed by kubectl, got {len(lines) - 1}"}
            return stats([timed(argv) for _ in range(self.args.list_runs)])
        finally:
            served.stop()

    def case_watch(self, tool):
        """12: from a container's exit to kubectl's watch printing it.
        Each run: a pod whose one container sleeps; kubectl get -w on it
        through `pod serve`; the bench kills the sleep (SIGKILL, from the
        host) and the clock runs until kubectl prints the container's
        exit code."""
        served = Served(tool, self.work)
        try:
            samples = []
            for _ in range(self.args.runs):
                name = self.fresh("watched")
                # A distinct argument: the bench finds this sleep by it.
                seconds = str(86400 + self.counter)
                pod = pod_manifest(name, [container("app", ["sleep", seconds])], restartPolicy="Never")
                manifest = self.manifest(name, pod)
                self.create_and_wait(tool, name, manifest)
                sleeper = [p for p in pids() if cmdline(p) == ["sleep", seconds]]
                if len(sleeper) != 1:
                    raise NotApplicable(f"found {len(sleeper)} processes 'sleep {seconds}'")
                template = '{.status.containerStatuses[0].state.terminated.exitCode}{"\\n"}'
                watch = spawn(
                    served.kubectl("get", "pod", name, "--watch", "-o", f"jsonpath={template}"),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    # The pod as it is, running: no exit code.
                    first = read_line(watch.stdout, 60)
                    if first != "\n":
                        raise NotApplicable(f"kubectl --watch printed {first!r} first")
                    t0 = time.perf_counter()
                    os.kill(sleeper[0], signal.SIGKILL)
                    while True:
                        line = read_line(watch.stdout, 60)
                        if line.strip() or not line:
                            break
                    elapsed = time.perf_counter() - t0
                finally:
                    watch.kill()
                    finish(watch)
                if line.strip() != "137":
                    raise NotApplicable(f"kubectl --watch printed {line!r}, not the exit code 137")
                samples.append(elapsed)
                run(tool.delete_argv(manifest, name), env=tool.env, timeout=120)
                reap_orphans()
            return {"12": stats(samples)}
        finally:
            served.stop()

    def memory_of(self, tool, name, manifest):
        self.create_and_wait(tool, name, manifest)
        time.sleep(1)  # let the pod settle (lazy allocations, first status writes)
        helpers, infra = tool.pod_host_processes(name)
        if not helpers:
            raise NotApplicable("found no supervisor process to measure")
        rss = pss = 0
        for pid in helpers + infra:
            r, p = memory_kib(pid)
            rss += r
            pss += p
        run(tool.delete_argv(manifest, name), env=tool.env, timeout=120)
        reap_orphans()
        return rss * 1024, pss * 1024, len(helpers), len(infra)

    def case_memory(self, tool):
        out = {}
        for count, key in [(1, "6a"), (4, "6b")]:
            rss, pss = [], []
            for _ in range(max(1, self.args.runs // 2)):
                name = self.fresh(f"mem{count}")
                r, p, nh, ni = self.memory_of(tool, name, self.manifest(name, sleepers_pod(name, count)))
                rss.append(r)
                pss.append(p)
            out[key + "-rss"] = stats(rss)
            out[key + "-pss"] = stats(pss)
            out[key + "-rss"]["processes"] = f"{nh} + {ni}"
        return out

    # 11: memory per pod at scale, as the machine pays it. For each N of
    # --scale, N pods of the seed's shape in one manifest file, run by
    # each tool in turn (the order alternates, so neither always runs
    # while the other helpers' builds are at one phase), --scale-runs
    # rounds. The memory the processes the tool keeps per pod hold (PSS,
    # USS, RSS), and the host's MemAvailable before the create and once
    # all N run (see memory_snapshot for how the noise of a shared
    # machine is taken out).
    def case_scale(self, tools):
        for tool in tools:
            # Not counted: podman builds its pause image on its first kube
            # play, and both tools' binaries come into the page cache.
            name = self.fresh("warm")
            self.create_and_wait(tool, name, self.manifest(name, seed_pod(name)))
            self.clear(tool)
        samples = {}
        for r in range(self.args.scale_runs):
            for i, n in enumerate(self.args.scale):
                for tool in tools if (r + i) % 2 == 0 else list(reversed(tools)):
                    print(f"bench: {tool.label}: 11, {n} pods, round {r + 1}", file=sys.stderr, flush=True)
                    try:
                        samples.setdefault((tool.label, n), []).append(self.scale_once(tool, n))
                    except (NotApplicable, CommandFailed, subprocess.TimeoutExpired) as e:
                        samples[(tool.label, n)] = str(e)
                        self.clear(tool)
        out = {}
        for (label, n), runs in samples.items():
            for key, value in scale_results(runs, n).items():
                out.setdefault(key, {})[label] = value
        return out

    def clear(self, tool):
        tool.delete_all()
        poll(f"{tool.label}'s pods to be gone", lambda: not tool.all_processes(), 300, 0.2)
        reap_orphans()

    def scale_once(self, tool, n):
        names = [self.fresh(f"scale{n}") for _ in range(n)]
        path = write_manifests(os.path.join(self.manifests, f"{names[0]}-{n}.yaml"), [seed_pod(nm) for nm in names])
        time.sleep(1)
        before = memory_snapshot(set())
        run(tool.create_argv(path), env=tool.env, timeout=600 + 5 * n)
        self.wait_all(tool, set(names), self.args.timeout + 3 * n)
        time.sleep(2)  # lazy allocations, first status writes
        after = memory_snapshot(tool.all_processes())
        kinds = {kind: [m for m in (rollup_kib(p) for p in group) if m] for kind, group in tool.process_kinds().items()}
        self.clear(tool)
        time.sleep(1)
        end = memory_snapshot(set())
        every = [m for group in kinds.values() for m in group]
        return {
            "available_drop": before["available"] - after["available"],
            "others_change": after["others"] - before["others"],
            "kernel_change": sum(after["kernel"][k] - before["kernel"][k] for k in KERNEL_FIELDS),
            "kernel_fields": {k: after["kernel"][k] - before["kernel"][k] for k in KERNEL_FIELDS},
            # MemAvailable lost between before the create and after the
            # delete: what the noise of the machine is, for this sample.
            "drift": before["available"] - end["available"],
            "pss": sum(m["Pss"] for m in every) * 1024,
            "uss": sum(m["Uss"] for m in every) * 1024,
            "pss_kinds": {k: sum(m["Pss"] for m in group) * 1024 for k, group in kinds.items()},
            "rss": {k: statistics.median(m["Rss"] for m in group) * 1024 if group else 0 for k, group in kinds.items()},
            "processes": {k: len(group) for k, group in kinds.items()},
        }

    def case_logs(self, tool):
        size = self.args.log_bytes
        name = self.fresh("logger")
        manifest = self.manifest(name, logger_pod(name, size))
        helpers_cpu = {}

        def sample_cpu():
            helpers, _ = tool.pod_host_processes(name)
            for pid in helpers:
                stat = read_stat(pid)
                if stat:
                    helpers_cpu[pid] = stat[2]

        t0 = time.perf_counter()
        run(tool.create_argv(manifest), env=tool.env, timeout=120)

        def begun():
            sample_cpu()
            return tool.started(name)

        def done():
            sample_cpu()
            return tool.terminated(name)

        poll(f"{name} to start", begun, self.args.timeout, 0.05)
        poll(f"{name} to finish writing", done, 1200, 0.2)
        elapsed = time.perf_counter() - t0
        run(tool.delete_argv(manifest, name), env=tool.env, timeout=120, check=False)
        reap_orphans()
        if not helpers_cpu:
            raise NotApplicable("found no supervisor process to measure")
        cpu = sum(helpers_cpu.values())
        return {
            "7-time": stats([elapsed]),
            "7-cpu": stats([cpu]),
            "7-rate": stats([size / elapsed / MIB]),
        }

    def case_exec(self, tool):
        name = self.fresh("exec")
        manifest = self.manifest(name, seed_pod(name))
        self.create_and_wait(tool, name, manifest)
        argv = tool.exec_argv(name, "nginx")
        run(argv, env=tool.env)  # warm-up
        samples = [timed(argv, env=tool.env) for _ in range(self.args.exec_runs)]
        run(tool.delete_argv(manifest, name), env=tool.env, timeout=120)
        reap_orphans()
        return {"8": stats(samples)}

    def case_pull(self, tool, registry):
        samples = []
        for i in range(max(1, self.args.runs // 2 + 1)):
            root = os.path.join(self.work, f"pull-{tool.label}-{i}")
            if isinstance(tool, Pod):
                env = tool.pull_env(root, registry.pod_conf)
                argv = tool.pull_argv(registry.ref)
            else:
                env = tool.env
                argv = tool.pull_argv(registry.ref, root=root)
            samples.append(timed(argv, env=env, timeout=600))
        return {"9": stats(samples)}


def scale_results(runs, n):
    """Case 11's report entries for one tool and one N, from its rounds
    (or the reason it could not run)."""
    keys = [f"11{c}-{n}" for c in "abcdefgh"]
    if isinstance(runs, str):
        return {k: {"na": runs} for k in keys}
    a, b, c, d, e, f, g, h = keys
    kinds = list(runs[0]["rss"])
    out = {
        a: stats([r["available_drop"] / n for r in runs]),
        b: stats([(r["available_drop"] - r["others_change"]) / n for r in runs]),
        c: stats([r["pss"] / n for r in runs]),
        d: stats([r["uss"] / n for r in runs]),
        e: stats([r["rss"][kinds[0]] for r in runs]),
        f: stats([r["rss"][kinds[-1]] for r in runs]),
        g: stats([r["kernel_change"] / n for r in runs]),
    }
    if len(kinds) > 2:
        out[h] = stats([r["rss"][kinds[1]] for r in runs])
    out[a]["drift_per_pod"] = [r["drift"] / n for r in runs]
    out[b]["others_change"] = [r["others_change"] for r in runs]
    out[g]["fields_per_pod"] = {k: statistics.median(r["kernel_fields"][k] / n for r in runs) for k in KERNEL_FIELDS}
    counts = runs[0]["processes"]
    out[c]["processes"] = " + ".join(f"{counts[k]} {k}" for k in kinds)
    out[c]["pss_per_pod_by_kind"] = {k: statistics.median(r["pss_kinds"][k] / n for r in runs) for k in kinds}
    return out


# ---------------------------------------------------------------- CNI


def plugin_times(attachment, runs):
    """Wall seconds of the CNI plugins alone: the list a pod's ADD ran (read
    from pod's attachment cache), executed here as the CNI specification
    says (each plugin with the CNI_* environment and its configuration on
    stdin, ADD in order with the previous result, DEL in reverse with the
    ADD result), in a network namespace of the bench's own. What pod adds
    around the plugins is the rest of case 10's times. Returns the ADD and
    DEL times of the whole list, and each plugin's median ADD and DEL."""
    conf = attachment["config"]
    dirs = attachment.get("binDirs") or ["/usr/lib/cni", "/opt/cni/bin"]
    adds, dels, each = [], [], {}
    for i in range(runs):
        holder = spawn(["unshare", "--net", "sleep", "600"])
        try:
            netns = f"/proc/{holder.pid}/ns/net"
            poll("the bench's network namespace", lambda: os.readlink(netns) != os.readlink("/proc/self/ns/net"), 10, 0.005)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "CNI_CONTAINERID": f"pod-bench-plugins-{os.getpid()}-{i}",
                "CNI_NETNS": netns,
                "CNI_IFNAME": attachment.get("ifName") or "eth0",
                "CNI_PATH": ":".join(dirs),
            }
            t0 = time.perf_counter()
            result = run_plugins(conf, dirs, dict(env, CNI_COMMAND="ADD"), None, conf["plugins"], each)
            adds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run_plugins(conf, dirs, dict(env, CNI_COMMAND="DEL"), result, list(reversed(conf["plugins"])), each)
            dels.append(time.perf_counter() - t0)
        finally:
            holder.kill()
            finish(holder)
    medians = {k: statistics.median(v) for k, v in each.items()}
    return adds, dels, medians


def run_plugins(conf, dirs, env, result, plugins, times):
    command = env["CNI_COMMAND"]
    for plugin in plugins:
        body = dict(plugin, cniVersion=conf["cniVersion"], name=conf["name"])
        if result is not None:
            body["prevResult"] = result
        binary = next((os.path.join(d, plugin["type"]) for d in dirs if os.path.exists(os.path.join(d, plugin["type"]))), None)
        if binary is None:
            raise NotApplicable(f"no CNI plugin {plugin['type']} in {dirs}")
        t0 = time.perf_counter()
        proc = spawn([binary], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = finish(proc, timeout=60, input=json.dumps(body))
        times.setdefault(f"{plugin['type']} {command}", []).append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise CommandFailed([binary, command], proc.returncode, stdout + stderr)
        if command == "ADD":
            result = json.loads(stdout)
    return result


# ---------------------------------------------------------------- registry


class Registry:
    """Debian's docker-registry on 127.0.0.1 holding a multi-layer image
    pushed with skopeo from an OCI layout written here."""

    def __init__(self, work, layers, layer_bytes, base_tar):
        for tool in ("docker-registry", "skopeo"):
            if not shutil.which(tool):
                raise NotApplicable(f"{tool} is not installed (apt-get install -y docker-registry skopeo)")
        self.dir = os.path.join(work, "registry")
        os.makedirs(self.dir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(
                "version: 0.1\n"
                "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n"
            )
        self.proc = spawn(["docker-registry", "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poll("the registry to answer", self.answers, 30, 0.1)
        self.ref = f"127.0.0.1:{self.port}/bench/layers:v1"
        layout = os.path.join(self.dir, "oci")
        self.layer_count = write_oci_layout(layout, base_tar, layers, layer_bytes)
        run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{self.ref}"])
        self.pod_conf = os.path.join(self.dir, "registries.conf")
        registries_conf(self.pod_conf, f'\n[[registry]]\nlocation = "127.0.0.1:{self.port}"\ninsecure = true\n')

    def answers(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=1):
                return True
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        try:
            finish(self.proc, timeout=10)
        except subprocess.TimeoutExpired:
            pass


def write_oci_layout(path, base_tar, extra_layers, layer_bytes):
    """An OCI image layout: the busybox rootfs, then `extra_layers` layers of
    `layer_bytes` random (incompressible) bytes each, gzip-compressed."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return "sha256:" + digest

    layers, diff_ids = [], []
    with open(base_tar, "rb") as f:
        tars = [f.read()]
    for i in range(extra_layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(f"data/layer-{i}.bin")
            info.size = layer_bytes
            tar.addfile(info, io.BytesIO(os.urandom(layer_bytes)))
        tars.append(buf.getvalue())
    for raw in tars:
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        gz = gzip.compress(raw, compresslevel=1, mtime=0)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(gz), "size": len(gz)})
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config)},
            "layers": layers,
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": put(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')
    return len(layers)


# ---------------------------------------------------------------- report

CASES = {
    "1": ("create → all containers Running, 2 containers (pod: create && wait)", "s"),
    "1-polled": ("the same, pod clocked by back-to-back get reads", "s"),
    "2": ("delete of that pod (SIGTERM honoured)", "s"),
    "3": ("create → Running, 4 containers", "s"),
    "4a": ("{many} pods created one after another → all Running", "s"),
    "4b": ("{many} pods created at once → all Running", "s"),
    "5": ("list pods with {stored} stored", "s"),
    "5-cpu": ("list pods with {stored} stored: CPU time", "s"),
    "5b": ("{stored} pods in one create → all Running", "s"),
    "5b-pss": ("host memory per pod with {stored} running, PSS", "B"),
    "5c": ("kubectl get pods through pod serve, {stored} stored", "s"),
    "6a-rss": ("host memory per pod, 1 container, RSS", "B"),
    "6a-pss": ("host memory per pod, 1 container, PSS", "B"),
    "6b-rss": ("host memory per pod, 4 containers, RSS", "B"),
    "6b-pss": ("host memory per pod, 4 containers, PSS", "B"),
    "7-time": ("log {log} to stdout: wall time", "s"),
    "7-cpu": ("log {log} to stdout: supervisor CPU", "s"),
    "7-rate": ("log {log} to stdout: throughput", "MiB/s"),
    "8": ("exec -- true round trip", "s"),
    "9": ("pull a {layers}-layer image from 127.0.0.1", "s"),
    "10a": ("network on: create → all containers Running, 2 containers (as 1)", "s"),
    "10a-polled": ("network on: the same, pod clocked by back-to-back get reads", "s"),
    "10b": ("network on: delete of that pod, network DEL included", "s"),
    "10c": ("network on: {many} pods created at once → all Running", "s"),
    "10d": ("network on: the network's ADD alone (as pod ran it in 10a)", "s"),
    "10e": ("network on: the network's DEL alone (as pod ran it in 10b)", "s"),
    "12": ("watch: a container's exit → kubectl get -w prints it", "s"),
    # Case 11, once per N of --scale (keys 11a-100 and so on).
    "11a": ("{n} pods running: MemAvailable drop / pod", "B"),
    "11b": ("{n} pods running: the same, other processes' change taken out", "B"),
    "11c": ("{n} pods running: PSS / pod (supervisor + keeper + pause; conmons + catatonit)", "B"),
    "11d": ("{n} pods running: USS / pod", "B"),
    "11e": ("{n} pods running: RSS of a supervisor (podman: conmon)", "B"),
    "11f": ("{n} pods running: RSS of a pause (podman: catatonit)", "B"),
    "11g": ("{n} pods running: kernel (slab, stacks, page tables, per-CPU) / pod", "B"),
    "11h": ("{n} pods running: RSS of a keeper (podman: none)", "B"),
}

GROUPS = {
    "1": ["1", "1-polled", "2"],
    "2": ["1", "1-polled", "2"],
    "3": ["3"],
    "4": ["4a", "4b"],
    "5": ["5", "5-cpu", "5b", "5b-pss", "5c"],
    "6": ["6a-rss", "6a-pss", "6b-rss", "6b-pss"],
    "7": ["7-time", "7-cpu", "7-rate"],
    "8": ["8"],
    "9": ["9"],
    "10": ["10a", "10a-polled", "10b", "10c", "10d", "10e"],
    "11": [],  # one key per letter and N of --scale: see scale_keys
    "12": ["12"],
}


def scale_keys(scale):
    return [f"11{c}-{n}" for n in scale for c in "abcdefgh"]

# Targets of issue 8 (for pod), checked on the medians.
TARGETS = {
    "1": ("≤ 1/10 of podman", lambda v, podman: podman is not None and v <= podman / 10),
    "1-polled": ("≤ 1/10 of podman", lambda v, podman: podman is not None and v <= podman / 10),
    "2": ("≤ 100 ms", lambda v, podman: v <= 0.100),
    "10a": ("≤ 1/10 of podman", lambda v, podman: podman is not None and v <= podman / 10),
    "10a-polled": ("≤ 1/10 of podman", lambda v, podman: podman is not None and v <= podman / 10),
    "10b": ("≤ 100 ms", lambda v, podman: v <= 0.100),
    "5": ("≤ 20 ms", lambda v, podman: v <= 0.020),
    "6a-rss": ("≤ 3 MiB", lambda v, podman: v <= 3 * MIB),
    "6b-rss": ("≤ 3 MiB", lambda v, podman: v <= 3 * MIB),
    "11a-100": ("below podman", lambda v, podman: podman is not None and v < podman),
    "11b-100": ("below podman", lambda v, podman: podman is not None and v < podman),
    "11c-100": ("≤ 1/2 of podman", lambda v, podman: podman is not None and v <= podman / 2),
    "11f-1": ("≤ 1 MiB", lambda v, podman: v <= MIB),
}


def fmt(value, unit):
    if unit == "s":
        if value < 0.1:
            return f"{value * 1000:.1f} ms"
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "B":
        return f"{value / MIB:.2f} MiB"
    return f"{value:.0f} {unit}"


def cell(result, unit):
    if result is None:
        return "-"
    if "na" in result:
        reason = result["na"]
        return "n/a: " + (reason if len(reason) <= 70 else reason[:67] + "...")
    text = fmt(result["median"], unit)
    if len(result["samples"]) > 1:
        low, high = fmt(result["min"], unit), fmt(result["max"], unit)
        suffix = " " + text.split()[-1]
        if low.endswith(suffix) and high.endswith(suffix):
            low, high = low[: -len(suffix)], high[: -len(suffix)]
        text += f" ({low}–{high})"
    if "distinct_addresses" in result:
        text += f", {result['distinct_addresses']} addresses"
    return text


def print_table(report, labels):
    rows = [("case", "pod", report["podman"]["column"], "pod/podman", "target")]
    keys = max([7, *(len(k) for k in report["cases"])])
    for key, entry in report["cases"].items():
        title, unit = entry["title"], entry["unit"]
        pod, podman = entry.get("pod"), entry.get("podman")
        ratio = ""
        if pod and podman and "median" in pod and "median" in podman and podman["median"]:
            ratio = f"{pod['median'] / podman['median']:.2f}"
        rows.append((f"{key:{keys}} {title}", cell(pod, unit), cell(podman, unit), ratio, entry.get("target", "")))
    widths = [min(max(len(r[i]) for r in rows), 80) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) * 1024
    cgroup = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1 (hybrid)" if os.path.isdir("/sys/fs/cgroup/unified") else "v1"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_bytes": mem,
        "kernel": platform.release(),
        "cgroup": cgroup,
        "load_average_at_start": list(os.getloadavg()),
    }


# ---------------------------------------------------------------- cleanup


def run_roots_tmpfs(work):
    """A tmpfs for both tools' run roots, as /run is on a Debian 12 with
    systemd, where pod's default run root (/run/pod) and podman's
    (/run/containers/storage) live; the state roots stay on the disk.
    On a disk that is slow to make files (this machine's ext4 without a
    journal skips recently deleted inodes, 0.1-0.5 ms a file under
    churn), run roots on it would measure the disk, not the tools.
    Unmounted with everything else under `work` at the end."""
    path = os.path.join(work, "run")
    os.makedirs(path)
    run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=4g", "pod-bench-run", path])
    return path


def unmount_under(path):
    """Lazily unmounts everything below path, deepest first."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path or point.startswith(path + "/"):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        run(["umount", "-l", point], check=False)


def main():
    parser = argparse.ArgumentParser(description="pod against podman kube play, side by side")
    parser.add_argument("--pod", required=True, help="the pod binary (release build)")
    parser.add_argument("--out", help="JSON report path (default bench/results/<UTC date>.json)")
    parser.add_argument("--cases", default="1,3,4,5,6,7,8,9,10,11,12", help="comma-separated case numbers (1 includes 1-polled and 2)")
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--many", type=int, default=100, help="pods in case 4 (default 100)")
    parser.add_argument("--stored", type=int, default=500, help="pods stored in case 5 (default 500)")
    parser.add_argument("--list-runs", type=int, default=10, help="list commands timed in case 5")
    parser.add_argument("--exec-runs", type=int, default=20, help="exec round trips timed in case 8")
    parser.add_argument("--log-bytes", type=int, default=GIB, help="bytes the case 7 container writes (default 1 GiB)")
    parser.add_argument("--pull-layers", type=int, default=4, help="random-data layers on top of busybox in case 9")
    parser.add_argument("--pull-layer-mib", type=int, default=16, help="size of each random-data layer, MiB")
    parser.add_argument("--no-podman", action="store_true", help="skip the podman column")
    parser.add_argument(
        "--podman-network",
        default="none",
        help="podman kube play --network in cases 1-9 (default none, which charges pod its network "
        "and podman none; 'bridge' is podman's default with CNI, which case 10 uses)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30, help="seconds a pod may take to run (plus 1 s per pod in cases 4 and 5)"
    )
    parser.add_argument("--scale", default="1,10,100", help="pod counts of case 11 (default 1,10,100)")
    parser.add_argument("--scale-runs", type=int, default=3, help="rounds of case 11, each N with each tool (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (for debugging)")
    args = parser.parse_args()
    try:
        args.scale = [int(n) for n in args.scale.split(",")]
    except ValueError:
        sys.exit(f"bench: --scale: {args.scale!r} is not a comma-separated list of pod counts")

    if os.geteuid() != 0:
        sys.exit("bench: run as root (both tools create namespaces, mounts and cgroups)")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    wanted = []
    for c in args.cases.split(","):
        c = c.strip()
        if c not in GROUPS:
            sys.exit(f"bench: unknown case {c!r} (cases are 1-12)")
        wanted += [k for k in (GROUPS[c] if c != "11" else scale_keys(args.scale)) if k not in wanted]

    become_subreaper()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    work = tempfile.mkdtemp(prefix="pod-bench-", dir="/var/tmp")
    tools = []
    registry = None
    try:
        run_roots = run_roots_tmpfs(work)
        # Room for the most pods any case runs at once, and a few more.
        pod = Pod(args.pod, work, run_roots, max([args.stored, args.many, *args.scale]) + 10)
        tools.append(pod)
        podman = None
        podman_note = None
        if args.no_podman:
            podman_note = "skipped (--no-podman)"
        elif not shutil.which("podman"):
            podman_note = "podman is not installed (apt-get install -y podman runc catatonit)"
        elif not any(shutil.which(p) or os.path.exists(p) for p in ("catatonit", "/usr/libexec/podman/catatonit")):
            # kube play builds its pause image around catatonit and fails
            # every pod without it.
            podman_note = "podman has no catatonit for its pause image (apt-get install -y catatonit)"
        else:
            podman = Podman(work, args.podman_network, run_roots)
            tools.append(podman)

        report = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(),
            "pod": {"revision": pod.revision(), "binary": pod.binary, "version": pod.version()},
            "podman": {"column": "podman", "note": podman_note},
            "settings": {k: v for k, v in vars(args).items() if k not in ("pod", "out")},
            "cases": {},
        }
        if podman:
            report["podman"]["version"] = podman.version()
            report["podman"]["column"] = "podman " + report["podman"]["version"].split()[0]
        for key in wanted:
            title, unit = CASES[key.split("-")[0] if key.startswith("11") else key]
            title = title.format(
                many=args.many,
                stored=args.stored,
                log=fmt(args.log_bytes, "B").replace(".00", ""),
                layers=args.pull_layers + 1,
                n=key.split("-")[-1],
            )
            report["cases"][key] = {"title": title, "unit": unit}
            if key in TARGETS:
                report["cases"][key]["target"] = TARGETS[key][0]

        tarball = busybox_rootfs_tar(os.path.join(work, "busybox-rootfs.tar"))
        image_ready = {}
        for tool in tools:
            try:
                tool.import_image(tarball)
                image_ready[tool] = None
            except (CommandFailed, subprocess.TimeoutExpired) as e:
                image_ready[tool] = str(e)

        if "9" in wanted:
            try:
                registry = Registry(work, args.pull_layers, args.pull_layer_mib * MIB, tarball)
            except (NotApplicable, CommandFailed) as e:
                report["cases"]["9"]["note"] = str(e)
                for tool in tools:
                    report["cases"]["9"][tool.label] = {"na": str(e)}

        bench = Bench(args, work)
        plan = [
            (["1", "1-polled", "2"], bench.case_create_delete),
            (["3"], bench.case_four),
            (["4a", "4b"], bench.case_many),
            (["5", "5-cpu", "5b", "5b-pss", "5c"], lambda tool: bench.case_list(tool, not image_ready[tool])),
            (["6a-rss", "6a-pss", "6b-rss", "6b-pss"], bench.case_memory),
            (["7-time", "7-cpu", "7-rate"], bench.case_logs),
            (["8"], bench.case_exec),
            (["10a", "10a-polled", "10b", "10c", "10d", "10e"], bench.case_network),
            (["12"], bench.case_watch),
        ]
        if registry:
            plan.append((["9"], lambda tool: bench.case_pull(tool, registry)))
        for keys, fn in plan:
            keys = [k for k in keys if k in wanted]
            if not keys:
                continue
            for tool in tools:
                print(f"bench: {tool.label}: {', '.join(keys)} ...", file=sys.stderr, flush=True)
                needs_image = keys[0] not in ("5", "9")
                try:
                    if needs_image and image_ready[tool]:
                        raise NotApplicable(image_ready[tool])
                    results = fn(tool)
                    for k in keys:
                        report["cases"][k][tool.label] = results[k]
                except (NotApplicable, CommandFailed, subprocess.TimeoutExpired) as e:
                    for k in keys:
                        report["cases"][k][tool.label] = {"na": str(e)}
                finally:
                    try:
                        tool.delete_all()
                    except Exception:
                        pass
                    reap_orphans()
        keys = [k for k in wanted if k.startswith("11")]
        if keys:
            print("bench: 11 ...", file=sys.stderr, flush=True)
            ready = [t for t in tools if not image_ready[t]]
            for tool in tools:
                if image_ready[tool]:
                    for k in keys:
                        report["cases"][k][tool.label] = {"na": image_ready[tool]}
            try:
                for k, by_tool in bench.case_scale(ready).items():
                    report["cases"][k].update(by_tool)
            except (NotApplicable, CommandFailed, subprocess.TimeoutExpired) as e:
                for k in keys:
                    for tool in ready:
                        report["cases"][k].setdefault(tool.label, {"na": str(e)})
            finally:
                for tool in ready:
                    try:
                        tool.delete_all()
                    except Exception:
                        pass
        if not podman:
            for entry in report["cases"].values():
                entry.setdefault("podman", {"na": podman_note})
        for key, (label, check) in TARGETS.items():
            entry = report["cases"].get(key)
            if entry and "median" in (entry.get("pod") or {}):
                pm = entry.get("podman") or {}
                entry["target_met"] = bool(check(entry["pod"]["median"], pm.get("median")))
                entry["target"] = label + (" ✓" if entry["target_met"] else " ✗")

        print()
        print_table(report, tools)
        for key in ("10d", "10e"):
            each = ((report["cases"].get(key) or {}).get("pod") or {}).get("plugins")
            if each:
                print(f"{key}: " + ", ".join(f"{k} {fmt(v, 's')}" for k, v in each.items()))
        if podman_note:
            print(f"\npodman column: {podman_note}")
        m = report["machine"]
        print(f"\n{m['cores']} cores, {m['cpu']}, kernel {m['kernel']}, cgroup {m['cgroup']}; pod {report['pod']['revision'][:12]}")
        out = args.out or os.path.join(repo, "bench", "results", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ") + ".json")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"wrote {out}")
    finally:
        print("bench: cleaning up", file=sys.stderr, flush=True)
        if registry:
            registry.stop()
        for tool in reversed(tools):
            try:
                tool.cleanup()
            except Exception as e:  # keep cleaning the rest
                print(f"bench: cleanup of {tool.label}: {e}", file=sys.stderr)
        reap_orphans()
        unmount_under(work)
        if args.keep:
            print(f"bench: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench: interrupted")
