//! The runtime through the binary: real pods (`pod create`) from a busybox
//! image built from the host's static busybox, checked from inside their
//! containers (through the containers' logs) and, after deletion, for
//! leftovers on the host: no mounts, no processes, no cgroups.

mod common;

use common::pods::{create, delete_and_check_clean, jsonpath, leftovers, wait_log, wait_until};
use common::{Env, import_busybox};

/// An environment with the busybox image imported.
fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

#[test]
fn shared_pid_namespace_shows_pause_as_pid_1() {
    let env = env();
    let uid = create(
        &env,
        "shared",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  shareProcessNamespace: true
  containers:
  - name: shell
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "until ps -o pid,user,args | grep -q 'sleep 3600'; do sleep 0.1; done; ps -o pid,user,args; echo done; sleep 3600"]
  - name: sleeper
    image: busybox
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"#,
    );
    let log = wait_log(&env, "shared", &uid, "shell", "done");
    let first = log.lines().nth(1).unwrap_or_default();
    let fields: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(fields, ["1", "65535", "/pause"], "ps output:\n{log}");
    assert!(
        log.contains("sleep 3600"),
        "the other container's process is visible:\n{log}"
    );
    // exec joins the same namespaces, with the container's identity.
    let ps = env.ok(&[
        "exec", "shared", "-c", "sleeper", "--", "ps", "-o", "pid,args",
    ]);
    assert!(
        ps.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "/pause"]),
        "{ps}"
    );
    // No signal stays ignored across execve (the runtime's own process
    // ignores SIGPIPE and SIGHUP): `yes | head` ends, as under runc.
    let ignored = env.ok(&[
        "exec",
        "shared",
        "-c",
        "sleeper",
        "--",
        "grep",
        "SigIgn",
        "/proc/self/status",
    ]);
    assert_eq!(ignored, "SigIgn:\t0000000000000000\n");
    let yes = env.ok(&[
        "exec",
        "shared",
        "-c",
        "sleeper",
        "--",
        "timeout",
        "5",
        "sh",
        "-c",
        "yes | head -c 3",
    ]);
    assert_eq!(yes, "y\ny");
    let err = env.fails(&["exec", "shared", "-c", "sleeper", "--", "no-such-tool"]);
    assert!(
        err.contains(r#"exec: "no-such-tool": executable file not found in $PATH"#),
        "{err}"
    );
    delete_and_check_clean(&env, "shared", &uid);
}

/// The cgroup paths of the hierarchies the runtime uses, from a
/// /proc/<pid>/cgroup text: v1's memory, cpu and pids lines, or v2's one.
fn runtime_cgroups(text: &str) -> Vec<String> {
    let lines: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some((controllers, path))
        })
        .collect();
    let v1: Vec<String> = lines
        .iter()
        .filter(|(c, _)| c.split(',').any(|c| ["memory", "cpu", "pids"].contains(&c)))
        .map(|(_, p)| p.to_string())
        .collect();
    if !v1.is_empty() {
        return v1;
    }
    lines
        .iter()
        .filter(|(c, _)| c.is_empty())
        .map(|(_, p)| p.to_string())
        .collect()
}

#[test]
fn every_process_of_a_pod_is_born_in_its_cgroups() {
    let env = env();
    let uid = create(
        &env,
        "grouped",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: grouped
spec:
  shareProcessNamespace: true
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"#,
    );
    wait_until(&env, "grouped", "the container to run", || {
        (jsonpath(&env, "grouped", "{.status.phase}") == "Running").then_some(())
    });
    let show = |script: &str| {
        let text = env.ok(&["exec", "grouped", "-c", "main", "--", "sh", "-c", script]);
        let paths = runtime_cgroups(&text);
        assert!(!paths.is_empty(), "{text}");
        paths
    };
    // Paths read inside the container are relative to its cgroup
    // namespace, whose root is the container's cgroup (pod/<uid>/main):
    // `/` is that cgroup, `/..` the pod's, `/../.sandbox` the pause
    // process's beside it.
    let expect = |paths: Vec<String>, want: &str, who: &str| {
        assert!(
            paths.iter().all(|p| p == want),
            "{who} is in {paths:?}, not in {want} of the container's cgroup namespace"
        );
    };
    // The pause process has a cgroup of its own only where it needs one:
    // on v1 in the devices hierarchy (its device list), in memory, cpu
    // and pids the pod's (a child there would cost a memory cgroup per pod
    // for nothing); on v2 a whole one, as the pod's cgroup has children.
    let pause = env.ok(&[
        "exec",
        "grouped",
        "-c",
        "main",
        "--",
        "cat",
        "/proc/1/cgroup",
    ]);
    let devices = pause
        .lines()
        .find_map(|l| l.split_once(":devices:").map(|(_, path)| path.to_string()));
    match devices {
        Some(path) => {
            assert_eq!(path, "/../.sandbox", "{pause}");
            expect(runtime_cgroups(&pause), "/..", "the pause process");
        }
        None => expect(runtime_cgroups(&pause), "/../.sandbox", "the pause process"),
    }
    expect(
        show("cat /proc/$(pidof sleep)/cgroup"),
        "/",
        "the container's process",
    );
    expect(show("cat /proc/self/cgroup"), "/", "an exec'd process");
    // And from the host, the container's process is in pod/<uid>/main.
    let host = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cgroup = std::fs::read_to_string(e.path().join("cgroup")).ok()?;
            (cmdline == b"sleep\x003600\x00" && cgroup.contains(&uid)).then_some(cgroup)
        })
        .next()
        .expect("the container's sleep seen from the host");
    let suffix = format!("/{uid}/main");
    let paths = runtime_cgroups(&host);
    assert!(
        !paths.is_empty() && paths.iter().all(|p| p.ends_with(&suffix)),
        "{host}"
    );
    delete_and_check_clean(&env, "grouped", &uid);
}

#[test]
fn containers_have_their_own_pid_namespace_by_default() {
    let env = env();
    let uid = create(
        &env,
        "separate",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: separate
spec:
  containers:
  - name: one
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "ps -o pid,args; echo done; sleep 3600"]
  - name: two
    image: busybox
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"#,
    );
    let log = wait_log(&env, "separate", &uid, "one", "done");
    assert!(!log.contains("/pause"), "{log}");
    let processes: Vec<Vec<&str>> = log
        .lines()
        .map(|l| l.split_whitespace().skip(1).collect())
        .collect();
    assert!(
        !processes.contains(&vec!["sleep", "3600"]),
        "the other container's process is not visible:\n{log}"
    );
    let first = log.lines().nth(1).unwrap_or_default();
    assert!(first.trim_start().starts_with("1 sh -c"), "{log}");
    delete_and_check_clean(&env, "separate", &uid);
}

#[test]
fn containers_talk_over_localhost_and_share_an_empty_dir_prepared_by_init() {
    let env = env();
    let uid = create(
        &env,
        "web",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  volumes:
  - name: www
    emptyDir: {}
  initContainers:
  - name: prepare
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "echo hello from init > /www/index.html"]
    volumeMounts:
    - {name: www, mountPath: /www}
  containers:
  - name: server
    image: busybox
    imagePullPolicy: Never
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumeMounts:
    - {name: www, mountPath: /www}
  - name: client
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "until wget -qO- http://127.0.0.1:8080/ 2>/dev/null; do sleep 0.1; done; cat /shared/index.html; sleep 3600"]
    volumeMounts:
    - {name: www, mountPath: /shared}
"#,
    );
    let log = wait_log(
        &env,
        "web",
        &uid,
        "client",
        "hello from init\nhello from init",
    );
    assert_eq!(log, "hello from init\nhello from init\n");
    delete_and_check_clean(&env, "web", &uid);
}

#[test]
fn etc_hosts_has_the_host_aliases_in_kubelet_layout() {
    let env = env();
    let uid = create(
        &env,
        "aliases",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: aliases
spec:
  restartPolicy: Never
  hostAliases:
  - ip: "127.0.0.1"
    hostnames: ["foo.local", "bar.local"]
  - ip: "10.1.2.3"
    hostnames: ["foo.remote", "bar.remote"]
  containers:
  - name: cat
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "cat /etc/hosts; echo host=$(hostname) env=$HOSTNAME; echo end"]
"#,
    );
    let log = wait_log(&env, "aliases", &uid, "cat", "end");
    // The pod's line carries the address the network gave it.
    let ip = jsonpath(&env, "aliases", "{.status.podIP}");
    assert!(!ip.is_empty());
    assert_eq!(
        log,
        format!(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n{ip}\taliases\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\tbar.remote\nhost=aliases env=aliases\nend\n"
        )
    );
    delete_and_check_clean(&env, "aliases", &uid);
}

/// The pod's /etc files are mounted on files of a layer of their own,
/// below the image's: starting a container whose image has none of them
/// (busybox) creates nothing in its writable layer on the state disk. A
/// container that mounts a volume (a directory) at /etc/hosts gets a
/// directory to mount it on, as before.
#[test]
fn starting_a_container_writes_nothing_to_its_writable_layer() {
    let env = env();
    let uid = create(
        &env,
        "quiet",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: quiet
spec:
  containers:
  - name: plain
    image: busybox
    imagePullPolicy: Never
    command: ["sleep", "3600"]
  - name: own-hosts
    image: busybox
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    volumeMounts:
    - name: hosts
      mountPath: /etc/hosts
  volumes:
  - name: hosts
    emptyDir: {}
"#,
    );
    wait_until(&env, "quiet", "the containers to run", || {
        (jsonpath(&env, "quiet", "{.status.phase}") == "Running").then_some(())
    });
    let upper = env
        .root()
        .join("writable")
        .join(&uid)
        .join("containers/plain/0/upper");
    let written: Vec<_> = std::fs::read_dir(&upper)
        .unwrap_or_else(|e| panic!("{}: {e}", upper.display()))
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        written.is_empty(),
        "the runtime wrote {written:?} to {}",
        upper.display()
    );
    let shown = |container: &str, script: &str| {
        env.ok(&["exec", "quiet", "-c", container, "--", "sh", "-c", script])
    };
    let ip = jsonpath(&env, "quiet", "{.status.podIP}");
    let hosts = shown("plain", "cat /etc/hosts");
    assert!(hosts.ends_with(&format!("{ip}\tquiet\n")), "{hosts}");
    assert_eq!(shown("plain", "cat /etc/hostname"), "quiet\n");
    assert!(shown("plain", "cat /etc/resolv.conf").contains("nameserver"));
    assert_eq!(
        shown(
            "own-hosts",
            "test -d /etc/hosts && echo dir; cat /etc/hostname"
        ),
        "dir\nquiet\n"
    );
    delete_and_check_clean(&env, "quiet", &uid);
}

#[test]
fn env_from_a_config_map_and_the_downward_api() {
    let env = env();
    let uid = create(
        &env,
        "envs",
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
  size: large
---
apiVersion: v1
kind: Pod
metadata:
  name: envs
  labels:
    app: demo
spec:
  restartPolicy: Never
  volumes:
  - name: info
    downwardAPI:
      items:
      - path: labels
        fieldRef: {fieldPath: metadata.labels}
  - name: config
    configMap:
      name: settings
  containers:
  - name: show
    image: busybox
    imagePullPolicy: Never
    resources:
      limits: {memory: 64Mi}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: settings}
    env:
    - name: COLOR
      valueFrom:
        configMapKeyRef: {name: settings, key: color}
    - name: POD_NAME
      valueFrom:
        fieldRef: {fieldPath: metadata.name}
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef: {fieldPath: metadata.namespace}
    - name: MEMORY_MIB
      valueFrom:
        resourceFieldRef: {resource: limits.memory, divisor: 1Mi}
    - name: GREETING
      value: "$(POD_NAME) is $(COLOR), $$(COLOR) is literal"
    volumeMounts:
    - {name: info, mountPath: /etc/podinfo}
    - {name: config, mountPath: /etc/config}
    command: ["sh", "-c", "echo color=$COLOR cfg=$CFG_size pod=$POD_NAME ns=$POD_NAMESPACE mem=$MEMORY_MIB; echo \"$GREETING\"; cat /etc/podinfo/labels; echo; cat /etc/config/size; echo; echo end"]
"#,
    );
    let log = wait_log(&env, "envs", &uid, "show", "end");
    assert_eq!(
        log,
        "color=blue cfg=large pod=envs ns=default mem=64\nenvs is blue, $(COLOR) is literal\napp=\"demo\"\nlarge\nend\n"
    );
    delete_and_check_clean(&env, "envs", &uid);
}

#[test]
fn security_context_user_read_only_root_and_dropped_capability() {
    let env = env();
    let uid = create(
        &env,
        "secure",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: secure
spec:
  restartPolicy: Never
  volumes:
  - name: scratch
    emptyDir: {}
  containers:
  - name: user
    image: busybox
    imagePullPolicy: Never
    securityContext:
      runAsUser: 1000
      runAsGroup: 3000
      readOnlyRootFilesystem: true
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    command: ["sh", "-c", "id; touch /x 2>&1; touch /scratch/ok && echo scratch-ok; echo end"]
  - name: nochown
    image: busybox
    imagePullPolicy: Never
    securityContext:
      capabilities:
        drop: ["CHOWN"]
    command: ["sh", "-c", "touch /tmp/f; chown 1:1 /tmp/f 2>&1; grep CapEff /proc/self/status; echo end"]
"#,
    );
    let log_user = wait_log(&env, "secure", &uid, "user", "end");
    assert_eq!(
        log_user,
        "uid=1000 gid=3000 groups=3000\ntouch: /x: Read-only file system\nscratch-ok\nend\n"
    );
    let log_chown = wait_log(&env, "secure", &uid, "nochown", "end");
    assert!(
        log_chown.contains("chown: /tmp/f: Operation not permitted"),
        "{log_chown}"
    );
    // containerd's default set (0xa80425fb) without CAP_CHOWN (bit 0).
    assert!(
        log_chown.contains("CapEff:\t00000000a80425fa"),
        "{log_chown}"
    );
    delete_and_check_clean(&env, "secure", &uid);
}

#[test]
fn a_memory_limit_ends_in_oom_killed() {
    let env = env();
    let uid = create(
        &env,
        "hog",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: hog
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: busybox
    imagePullPolicy: Never
    resources:
      limits: {memory: 16Mi}
    command: ["sh", "-c", "tail /dev/zero"]
"#,
    );
    let terminated = wait_until(&env, "hog", "the container to terminate", || {
        let reason = jsonpath(
            &env,
            "hog",
            "{.status.containerStatuses[0].state.terminated.reason}",
        );
        (!reason.is_empty()).then_some(reason)
    });
    let code = jsonpath(
        &env,
        "hog",
        "{.status.containerStatuses[0].state.terminated.exitCode}",
    );
    assert_eq!((terminated.as_str(), code.as_str()), ("OOMKilled", "137"));
    delete_and_check_clean(&env, "hog", &uid);
}

#[test]
fn start_failures_are_reported_with_runtime_and_kubelet_messages() {
    let env = env();
    let uid = create(
        &env,
        "broken",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: broken
spec:
  restartPolicy: Never
  containers:
  - name: missing
    image: busybox
    imagePullPolicy: Never
    command: ["no-such-program"]
  - name: nonroot
    image: busybox
    imagePullPolicy: Never
    securityContext:
      runAsNonRoot: true
    command: ["true"]
"#,
    );
    let missing = wait_until(&env, "broken", "the start failure", || {
        let status = jsonpath(&env, "broken", "{.status.containerStatuses[0].state}");
        status
            .contains("executable file not found")
            .then_some(status)
    });
    assert!(
        missing.contains(r#"exec: \"no-such-program\": executable file not found in $PATH"#),
        "{missing}"
    );
    let nonroot = wait_until(&env, "broken", "the config error", || {
        let status = jsonpath(&env, "broken", "{.status.containerStatuses[1].state}");
        status
            .contains("CreateContainerConfigError")
            .then_some(status)
    });
    assert!(
        nonroot.contains(&format!(
            r#"container has runAsNonRoot and image will run as root (pod: \"broken_default({uid})\", container: nonroot)"#
        )),
        "{nonroot}"
    );
    delete_and_check_clean(&env, "broken", &uid);
}

#[test]
fn config_map_volumes_follow_apply() {
    let env = env();
    let config = |value: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: live\ndata:\n  key: {value}\n")
    };
    let file = env.manifest("live.yaml", &config("first"));
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let uid = create(
        &env,
        "reader",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  volumes:
  - name: config
    configMap:
      name: live
  containers:
  - name: reader
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {name: config, mountPath: /config}
    command: ["sh", "-c", "while true; do cat /config/key; echo; sleep 0.1; done"]
"#,
    );
    wait_log(&env, "reader", &uid, "reader", "first");
    std::fs::write(&file, config("second")).unwrap();
    env.ok(&["apply", "-f", file.to_str().unwrap()]);
    wait_log(&env, "reader", &uid, "reader", "second");
    delete_and_check_clean(&env, "reader", &uid);
}

#[test]
fn the_termination_message_file_reaches_the_status() {
    let env = env();
    let uid = create(
        &env,
        "farewell",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: farewell
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "echo -n goodbye > /dev/termination-log; exit 3"]
  - name: custom
    image: busybox
    imagePullPolicy: Never
    terminationMessagePath: /tmp/why
    command: ["sh", "-c", "echo -n custom path > /tmp/why"]
"#,
    );
    let message = |i: usize| {
        let path = format!("{{.status.containerStatuses[{i}].state.terminated.message}}");
        wait_until(&env, "farewell", "the termination message", || {
            let text = jsonpath(&env, "farewell", &path);
            (!text.is_empty()).then_some(text)
        })
    };
    assert_eq!(message(0), "goodbye");
    assert_eq!(message(1), "custom path");
    let code = jsonpath(
        &env,
        "farewell",
        "{.status.containerStatuses[0].state.terminated.exitCode}",
    );
    assert_eq!(code, "3");
    delete_and_check_clean(&env, "farewell", &uid);
}

#[test]
fn host_namespaces_are_the_hosts() {
    let env = env();
    let uid = create(
        &env,
        "hostly",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: hostly
spec:
  restartPolicy: Never
  hostNetwork: true
  hostPID: true
  containers:
  - name: look
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "hostname; head -1 /etc/hosts; cat /proc/1/comm; echo end"]
"#,
    );
    let log = wait_log(&env, "hostly", &uid, "look", "end");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let init = std::fs::read_to_string("/proc/1/comm").unwrap();
    assert_eq!(
        log,
        format!(
            "{}\n# Kubernetes-managed hosts file (host network).\n{}\nend\n",
            host.trim(),
            init.trim()
        )
    );
    delete_and_check_clean(&env, "hostly", &uid);
}

#[test]
fn secret_projected_and_sub_path_volumes() {
    let env = env();
    let uid = create(
        &env,
        "vols",
        r#"
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  user: admin
  pass: s3cret
---
apiVersion: v1
kind: Pod
metadata:
  name: vols
  labels: {tier: back}
spec:
  restartPolicy: Never
  volumes:
  - name: secret
    secret:
      secretName: creds
      defaultMode: 0400
      items:
      - {key: pass, path: nested/password}
  - name: all-in-one
    projected:
      sources:
      - secret:
          name: creds
          items: [{key: user, path: username}]
      - downwardAPI:
          items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
      - serviceAccountToken: {path: token, audience: vault, expirationSeconds: 3600}
  - name: work
    emptyDir: {}
  containers:
  - name: show
    image: busybox
    imagePullPolicy: Never
    env:
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    volumeMounts:
    - {name: secret, mountPath: /etc/creds}
    - {name: all-in-one, mountPath: /projected}
    - {name: work, mountPath: /only-sub, subPath: deep/dir}
    - {name: work, mountPath: /whole}
    - {name: work, mountPath: /expr, subPathExpr: $(POD)}
    command:
    - sh
    - -c
    - |
      cat /etc/creds/nested/password; echo
      stat -L -c %a /etc/creds/nested/password
      cat /projected/username; echo
      cat /projected/labels; echo
      grep -c . /projected/token
      touch /only-sub/a /expr/b
      ls /whole /whole/deep/dir /whole/vols
      grep -c ' /etc/creds tmpfs ro' /proc/mounts
      echo end
"#,
    );
    let log = wait_log(&env, "vols", &uid, "show", "end");
    assert_eq!(
        log,
        "s3cret\n400\nadmin\ntier=\"back\"\n1\n/whole:\ndeep\nvols\n\n/whole/deep/dir:\na\n\n/whole/vols:\nb\n1\nend\n"
    );
    delete_and_check_clean(&env, "vols", &uid);
}

/// The pod's files on the host are gone with it, and nothing of it ran
/// outside: a sanity check of the leftover check itself.
#[test]
fn leftover_check_sees_a_running_pod() {
    let env = env();
    let uid = create(
        &env,
        "alive",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: alive
spec:
  containers:
  - name: sleeper
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "echo up; sleep 3600"]
"#,
    );
    wait_log(&env, "alive", &uid, "sleeper", "up");
    let left = leftovers(&env, &uid);
    for kind in ["cgroup: ", "process ", "mount: ", "directory: "] {
        assert!(
            left.iter().any(|l| l.starts_with(kind)),
            "a running pod shows a {kind:?} entry: {left:#?}"
        );
    }
    delete_and_check_clean(&env, "alive", &uid);
}

/// A tmpfs on the host made a shared mount, for Bidirectional volumes;
/// unmounted (with whatever a container mounted beneath it) when dropped.
struct SharedHostMount {
    dir: tempfile::TempDir,
}

impl SharedHostMount {
    fn new() -> SharedHostMount {
        let dir = tempfile::Builder::new()
            .prefix("pod-test-shared-")
            .tempdir()
            .unwrap();
        for args in [&["-t", "tmpfs", "tmpfs"][..], &["--make-shared"][..]] {
            let status = std::process::Command::new("mount")
                .args(args)
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "mount {args:?}");
        }
        SharedHostMount { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for SharedHostMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-R", "-l"])
            .arg(self.dir.path())
            .status();
    }
}

fn is_mount_point(path: &std::path::Path) -> bool {
    let wanted = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(wanted.as_str()))
}

#[test]
fn bidirectional_mount_propagation_reaches_the_host_and_back() {
    let env = env();
    let shared = SharedHostMount::new();
    let uid = create(
        &env,
        "propagate",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: propagate
spec:
  volumes:
  - name: shared
    hostPath: {{path: {}, type: Directory}}
  containers:
  - name: mounter
    image: busybox
    imagePullPolicy: Never
    securityContext: {{privileged: true}}
    volumeMounts:
    - {{name: shared, mountPath: /shared, mountPropagation: Bidirectional}}
    command: [sh, -c, 'mkdir /shared/from-pod && mount -t tmpfs tmpfs /shared/from-pod && echo made-in-pod > /shared/from-pod/file && echo mounted; sleep 3600']
  - name: watcher
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {{name: shared, mountPath: /shared, mountPropagation: HostToContainer}}
    command: [sh, -c, 'until [ -f /shared/from-host/file ]; do sleep 0.1; done; cat /shared/from-host/file; sleep 3600']
"#,
            shared.path().display()
        ),
    );
    wait_log(&env, "propagate", &uid, "mounter", "mounted");
    // The container's mount reached the host.
    let from_pod = shared.path().join("from-pod");
    assert!(
        is_mount_point(&from_pod),
        "{} is not a mount on the host",
        from_pod.display()
    );
    assert_eq!(
        std::fs::read_to_string(from_pod.join("file")).unwrap(),
        "made-in-pod\n"
    );
    // A mount made on the host reaches the containers.
    let from_host = shared.path().join("from-host");
    std::fs::create_dir(&from_host).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&from_host)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(from_host.join("file"), "made-on-host\n").unwrap();
    wait_log(&env, "propagate", &uid, "watcher", "made-on-host");
    delete_and_check_clean(&env, "propagate", &uid);
}

#[test]
fn bidirectional_propagation_needs_a_shared_host_mount() {
    let env = env();
    let private = tempfile::tempdir().unwrap();
    let uid = create(
        &env,
        "unshared",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: unshared
spec:
  restartPolicy: Never
  volumes:
  - name: private
    hostPath: {{path: {}, type: Directory}}
  containers:
  - name: mounter
    image: busybox
    imagePullPolicy: Never
    securityContext: {{privileged: true}}
    volumeMounts:
    - {{name: private, mountPath: /private, mountPropagation: Bidirectional}}
    command: ["true"]
"#,
            private.path().display()
        ),
    );
    let state = wait_until(&env, "unshared", "the start failure", || {
        let state = jsonpath(&env, "unshared", "{.status.containerStatuses[0].state}");
        state.contains("shared mount").then_some(state)
    });
    assert!(
        state.contains(&format!(
            r#"path \"{}\" is mounted on "#,
            private.path().display()
        )) && state.contains("but it is not a shared mount"),
        "{state}"
    );
    delete_and_check_clean(&env, "unshared", &uid);
}

/// A container with more volume mounts than there are free descriptor
/// numbers below the supervisor's sealed copy of the `pod` binary: the
/// mount sources its init inherits (placed at 5, 6, 7...) reach that
/// number. The init must still execute the sealed binary, never the
/// mount source placed on its number: here each source is a file of a
/// shared emptyDir that a sibling container made an executable script
/// (code in a container choosing what root runs on the host). Before the
/// fix the start failed or ran the script.
#[test]
fn an_init_with_many_mounts_executes_the_pod_binary_not_a_mount_source() {
    let env = env();
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    const MOUNTS: usize = 60;
    let mounts: String = (0..MOUNTS)
        .map(|i| format!("    - {{name: shared, mountPath: /m/{i}, subPath: s{i}}}\n"))
        .collect();
    let script = format!("#!/bin/sh\necho ran >> {}/escaped\n", out.display());
    let yaml = format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: many
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: shared
    emptyDir: {{}}
  initContainers:
  - name: plant
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'for i in $(seq 0 {last}); do printf "%s" "$SCRIPT" > /shared/s$i; chmod 755 /shared/s$i; done']
    env:
    - {{name: SCRIPT, value: {script:?}}}
    volumeMounts:
    - {{name: shared, mountPath: /shared}}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
    volumeMounts:
{mounts}"#,
        last = MOUNTS - 1,
    );
    let uid = create(&env, "many", &yaml);
    wait_until(&env, "many", "the container to run", || {
        let phase = jsonpath(&env, "many", "{.status.phase}");
        let waiting = jsonpath(
            &env,
            "many",
            "{.status.containerStatuses[0].state.waiting.message}",
        );
        assert!(
            !waiting.contains("error") && !waiting.contains("denied"),
            "{waiting}"
        );
        (phase == "Running").then_some(())
    });
    assert!(
        !out.join("escaped").exists(),
        "the init executed a mount source"
    );
    assert_eq!(
        env.ok(&["exec", "many", "-c", "c", "--", "sh", "-c", "ls /m | wc -l"])
            .trim(),
        MOUNTS.to_string()
    );
    delete_and_check_clean(&env, "many", &uid);
}
