#!/usr/bin/env python3
"""Two or more pod binaries A/B on the seed pod: CPU per create and
create -> Running, creates alternating between the binaries.

    python3 bench/ab.py --runs 8 old=/tmp/pod-old new=target/release/pod

Each create of the seed pod (bench.py's seed_pod) is clocked as bench.py
clocks case 1: with --clock wait (the default), `pod create -f X && pod
wait --for=condition=Ready pod/NAME`, the clock stopping when the wait
exits, then one read that is not timed checks every container running;
with --clock polled (case 1-polled), back to back `get` reads until one
shows every container running. Then the CPU of every process the create
made is summed (the wait's and the reads' are not): the CLI's from its
rusage, every other (supervisor, keeper, pause, the containers' processes,
which are the inits after their execve) from its CPU-time clock at that
moment (clock_gettime of the process's clock: every thread, those that
have ended included, which /proc/<pid>/task/ no longer lists). CPU time hardly moves when other work shares the machine;
wall time does, so the CPU is the figure to compare under load. The order
of the binaries alternates from one round to the next.

Each binary gets its own state root in a temporary directory on the disk
and its run root on a tmpfs mounted there (as /run is); both, every pod,
and the bridge and rule its pods made (as bench.py does), are removed at
the end, also on failure or Ctrl-C. Standard library
only; needs root and busybox-static, as bench.py does.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402


class Binary:
    def __init__(self, label, path, work, run, tarball):
        self.label, self.path = label, os.path.realpath(path)
        self.root = os.path.join(work, f"root-{label}")
        cni = os.path.join(work, f"cni-{label}")
        os.makedirs(self.root)
        os.makedirs(cni)
        # bench.py's node configuration: its own empty CNI directory (the
        # default network), no disk threshold.
        with open(os.path.join(self.root, "config.yaml"), "w") as f:
            f.write(
                "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                f"cniConfDir: {cni}\nevictionHard:\n  memory.available: 100Mi\n"
            )
        self.env = dict(os.environ, POD_ROOT=self.root, POD_RUN_ROOT=os.path.join(run, f"run-{label}"))
        B.run([self.path, "image", "import", "--change", 'CMD ["sh"]', "--change", f"ENV {B.PATH_ENV}", tarball, B.BUSYBOX_REF], env=self.env)
        self.samples = []

    def get(self, name):
        proc = B.run([self.path, "get", "pod", name, "-o", "json"], env=self.env, check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def processes(self):
        """{pid: kind} of the keepers and supervisors of this root and all
        they started."""
        marker = f"POD_ROOT={self.root}"
        helpers = [
            p
            for p in B.pids()
            if B.exe(p).removesuffix(" (deleted)") == self.path and B.cmdline(p)[:1] != ["/pause"] and B.environ_has(p, marker)
        ]
        kids = B.children_map()
        kinds = {h: "keeper" if B.comm(h) == "pod-keeper" else "supervisor" for h in helpers}
        for h in helpers:
            for p in B.descendants(h, kids):
                if p not in kinds:
                    argv = B.cmdline(p)
                    kinds[p] = "pause" if argv[:1] == ["/pause"] else os.path.basename(argv[0]) if argv else "?"
        return kinds

    def cleanup(self):
        B.run([self.path, "delete", "pods", "--all", "--force", "--grace-period=0"], env=self.env, check=False, timeout=300)


def on_cpu_ms(pid):
    """The CPU a process has used so far, its ended threads included
    (the supervisor does part of a start on threads that end before the
    pod runs): its process CPU-time clock, as clock_getcpuclockid(3)
    makes it (CPUCLOCK_SCHED of the whole thread group)."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2) / 1e6
    except OSError:
        return 0


def create(binary, manifest, name, timeout, clock):
    t0 = time.perf_counter()
    proc = B.spawn([binary.path, "create", "-f", manifest], env=binary.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        B.OWNED.discard(proc.pid)
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode(errors="replace")
        raise B.CommandFailed([binary.path, "create"], os.waitstatus_to_exitcode(status), err)
    proc.stderr.close()
    if clock == "wait":
        B.run([binary.path, "wait", "--for=condition=Ready", f"pod/{name}", f"--timeout={timeout:g}s"], env=binary.env, timeout=timeout + 10)
        wall = (time.perf_counter() - t0) * 1000
        if not B.Pod.is_running(binary.get(name)):
            raise B.NotApplicable(f"{name} was Ready but not every container read running")
    else:
        B.poll(f"{name} to run", lambda: B.Pod.is_running(binary.get(name)), timeout)
        wall = (time.perf_counter() - t0) * 1000
    cpu = {"cli": (usage.ru_utime + usage.ru_stime) * 1000}
    for pid, kind in binary.processes().items():
        cpu[kind] = cpu.get(kind, 0) + on_cpu_ms(pid)
    return {"wall_ms": wall, "cpu_ms": sum(cpu.values()), "cpu_by_process_ms": cpu}


def summary(values):
    return f"median {statistics.median(values):7.2f}  min {min(values):7.2f}  max {max(values):7.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+", metavar="LABEL=PATH")
    parser.add_argument("--runs", type=int, default=8, help="creates per binary (default 8)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for Running")
    parser.add_argument(
        "--clock",
        choices=("wait", "polled"),
        default="wait",
        help="stop the clock when `pod wait --for=condition=Ready` exits (default), or at the first of back-to-back get reads showing Running",
    )
    parser.add_argument("--out", help="write every sample here as JSON")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("ab: needs root")
    pairs = [b.split("=", 1) for b in args.binaries]
    if any(len(p) != 2 for p in pairs):
        sys.exit("ab: each binary is LABEL=PATH")
    B.become_subreaper()
    host_network = B.HostNetwork()
    # Where bench.py works (/var/tmp), not /tmp: the tests make and remove
    # their roots there, and on an ext4 without a journal (this kind of
    # virtual disk) every inode made in a directory scans past the ones
    # removed near it in the last minutes, a cost of the machine's other
    # work that would land on the pods measured.
    work = tempfile.mkdtemp(prefix="pod-ab-", dir="/var/tmp")
    run = os.path.join(work, "run")
    os.makedirs(run)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "pod-ab", run], check=True)
    binaries = []
    try:
        tarball = B.busybox_rootfs_tar(os.path.join(work, "busybox.tar"))
        for label, path in pairs:
            binaries.append(Binary(label, path, work, run, tarball))
        manifests = os.path.join(work, "manifests")
        os.makedirs(manifests)
        for i in range(args.runs):
            for binary in binaries if i % 2 == 0 else binaries[::-1]:
                name = f"seed-{binary.label}-{i}"
                manifest = B.write_manifests(os.path.join(manifests, f"{name}.yaml"), [B.seed_pod(name)])
                binary.samples.append(create(binary, manifest, name, args.timeout, args.clock))
                B.run([binary.path, "delete", "pod", name], env=binary.env, timeout=120)
        load = open("/proc/loadavg").read().split()[:3]
        for binary in binaries:
            print(f"{binary.label}: {len(binary.samples)} creates, clock {args.clock}, load average {' '.join(load)} at the end")
            print(f"  create -> Running ms   {summary([s['wall_ms'] for s in binary.samples])}")
            print(f"  CPU per create ms      {summary([s['cpu_ms'] for s in binary.samples])}")
            for kind in sorted({k for s in binary.samples for k in s["cpu_by_process_ms"]}):
                values = [s["cpu_by_process_ms"].get(kind, 0) for s in binary.samples]
                print(f"    {kind:18s}   {summary(values)}")
        if args.out:
            with open(args.out, "w") as f:
                json.dump({"load": load, "clock": args.clock, "samples": {b.label: b.samples for b in binaries}}, f, indent=1)
    finally:
        for binary in binaries:
            binary.cleanup()
        # The bridge and masquerade rule, if these pods made them (as bench.py).
        host_network.restore(os.path.realpath(work))
        subprocess.run(["umount", "-l", run], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", work], check=False)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("ab: interrupted")
