//! Bad invocations of every verb (issue 18): each exits non-zero with
//! exactly one line on stderr, an error in kubectl's shape, and never a
//! panic or a backtrace. Usage errors name where to read the usage.

mod common;

use common::Env;

/// Runs `pod ARGS` with stdin closed and returns (exit code, stderr).
fn fail(env: &Env, args: &[&str]) -> (i32, String) {
    let out = env
        .pod()
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("running pod");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An error chain that says one cause twice in a row (`reading layer:
/// Is a directory (os error 21): Is a directory (os error 21)`).
fn repeats_a_cause(line: &str) -> bool {
    let parts: Vec<&str> = line.trim_end().split(": ").collect();
    parts.windows(2).any(|w| w[0] == w[1])
}

#[test]
fn every_verb_fails_in_one_line() {
    let env = Env::new();
    let missing = env.dir.path().join("missing.yaml");
    let missing = missing.to_str().unwrap();
    let bad_yaml = env.manifest(
        "bad.yaml",
        "kind: Pod\napiVersion: v1\nmetadata: {name: x\n",
    );
    let bad_yaml = bad_yaml.to_str().unwrap();
    let empty_dir = env.dir.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    let empty_dir = empty_dir.to_str().unwrap();
    #[rustfmt::skip]
    let rows: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bogus"], "error: unrecognized subcommand 'bogus'; see 'pod --help'"),
        (vec!["--bogus"], "error: unexpected argument '--bogus' found; see 'pod --help'"),
        (vec!["help", "bogus"], "error: unrecognized subcommand 'bogus'"),
        (vec!["create"], "error: the following required arguments were not provided: --filename <FILE>; see 'pod create --help'"),
        (vec!["create", "-f", missing], "error: the path"),
        (vec!["create", "-f", bad_yaml], "error: error parsing"),
        (vec!["create", "-f", "/dev/zero"], "error: reading \"/dev/zero\": more than 64 MiB, too big for a manifest"),
        (vec!["create", "-f", "/proc/self/mem"], "error: reading \"/proc/self/mem\": Input/output error"),
        (vec!["create", "-f", empty_dir], "error: no objects passed to create"),
        (vec!["delete", "-f", missing], "error: the path"),
        (vec!["port-forward", "../x", "80"], "Error from server (BadRequest): \"../x\" is not a pod (use POD or pod/POD)"),
        (vec!["wait", "pod/../x", "--for=delete"], "error: invalid resource name \"../x\": [may not contain '/']"),
        (vec!["taint", "nodes", "../x", "a=b:NoSchedule"], "error: invalid resource name \"../x\": [may not contain '/']"),
        (vec!["taint", "nodes", "x", "a=b:Bogus"], "error: invalid taint effect: Bogus, unsupported taint effect; see 'pod taint --help'"),
        (vec!["taint", "nodes", "x"], "error: at least one taint update is required"),
        (vec!["taint", "nodes", "x", "a=b:NoSchedule", "y"], "error: all resources must be specified before taint changes: y"),
        (vec!["port-forward"], "error: TYPE/NAME and list of ports are required for port-forward; see 'pod port-forward --help'"),
        (vec!["port-forward", "nope"], "error: TYPE/NAME and list of ports are required for port-forward; see 'pod port-forward --help'"),
        (vec!["image", "load", "-i", empty_dir], "error: loading "),
        (vec!["image", "load", "-i", bad_yaml], "error: loading "),
        (vec!["image", "import", empty_dir, "x:1"], "error: "),
        (vec!["image", "tag"], "error: "),
        (vec!["image", "save"], "error: "),
        (vec!["cp"], "error: "),
        (vec!["get", "pods", "--sort-by", "{.bogus"], "error: "),
        (vec!["get", "pods", "-l", "a=b=c"], "error: "),
        (vec!["get", "pods", "--field-selector", "bogus=1"], "error: "),
        (vec!["get", "pods", "-n", "../x"], "error: invalid namespace \"../x\""),
        (vec!["delete", "pod", "nope", "--grace-period", "x"], "error: invalid value 'x' for '--grace-period"),
        (vec!["create", "-f", "-"], "error: no objects passed to create"),
        (vec!["logs", "nope", "-c", "../x"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["exec", "nope", "-c", "x"], "error: "),
        (vec!["wait", "pod/nope", "--for=condition=Ready", "--timeout", "x"], "error: "),
        (vec!["annotate", "pod", "nope", "a"], "error: "),
        (vec!["apply", "-f", bad_yaml], "error: error parsing"),
        (vec!["describe", "bogus"], "error: the server doesn't have a resource type \"bogus\""),
        (vec!["up", "--bogus"], "error: unexpected argument '--bogus' found; see 'pod up --help'"),
        (vec!["apply", "--bogus"], "error: unexpected argument '--bogus' found; see 'pod apply --help'"),
        (vec!["apply", "-f", missing], "error: the path"),
        (vec!["get"], "error: You must specify the type of resource to get."),
        (vec!["get", "bogus"], "error: the server doesn't have a resource type \"bogus\""),
        (vec!["get", "pod", "nope"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["get", "pods", "-o", "bogus"], "error: unable to match a printer suitable for the output format \"bogus\""),
        (vec!["get", "pods", "-l", "a in (b"], "error: "),
        (vec!["describe"], "error: You must specify the type of resource to get."),
        (vec!["describe", "pod", "nope"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["delete"], "error: You must specify the type of resource to get."),
        (vec!["delete", "pod"], "error: resource(s) were provided, but no name was specified"),
        (vec!["delete", "pod", "nope"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["delete", "pod", "a", "--all"], "error: name cannot be provided when a selector or --all is specified"),
        (vec!["logs"], "error: the following required arguments were not provided: <POD>; see 'pod logs --help'"),
        (vec!["logs", "nope"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["logs", "nope", "--tail", "x"], "error: invalid value 'x' for '--tail <TAIL>'"),
        (vec!["exec"], "error: the following required arguments were not provided: <POD>, <COMMAND>...; see 'pod exec --help'"),
        (vec!["exec", "nope", "--", "ls"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["attach"], "error: the following required arguments were not provided: <POD>; see 'pod attach --help'"),
        (vec!["attach", "nope"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["port-forward", "--bogus"], "error: unexpected argument '--bogus' found; see 'pod port-forward --help'"),
        (vec!["port-forward", "nope", "8080"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["wait"], "error: the following required arguments were not provided: --for <CONDITION>; see 'pod wait --help'"),
        (vec!["wait", "pod/nope", "--for", "bogus"], "error: "),
        (vec!["label"], "error: the following required arguments were not provided: <ITEMS>...; see 'pod label --help'"),
        (vec!["label", "pod", "nope", "a=b"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["annotate"], "error: the following required arguments were not provided: <ITEMS>...; see 'pod annotate --help'"),
        (vec!["annotate", "pod", "nope", "a=b"], "Error from server (NotFound): pods \"nope\" not found"),
        (vec!["image"], "error: 'pod image' requires a subcommand but one was not provided"),
        (vec!["image", "bogus"], "error: unrecognized subcommand 'bogus'; see 'pod image --help'"),
        (vec!["image", "ls", "--bogus"], "error: unexpected argument '--bogus' found; see 'pod image ls --help'"),
        (vec!["image", "pull"], "error: the following required arguments were not provided: <IMAGE>; see 'pod image pull --help'"),
        (vec!["image", "pull", "Bad//Ref"], "error: "),
        (vec!["image", "load"], "error: "),
        (vec!["image", "load", "-i", missing], "error: "),
        (vec!["image", "import"], "error: the following required arguments were not provided"),
        (vec!["image", "import", missing, "x:1"], "error: "),
        (vec!["image", "inspect", "nope:1"], "Error from server (NotFound): images \"nope:1\" not found"),
        (vec!["image", "rm"], "error: the following required arguments were not provided"),
        (vec!["image", "rm", "nope:1"], "Error from server (NotFound): images \"nope:1\" not found"),
        (vec!["image", "prune", "--bogus"], "error: unexpected argument '--bogus' found; see 'pod image prune --help'"),
        (vec!["version", "--bogus"], "error: unexpected argument '--bogus' found; see 'pod version --help'"),
        (vec!["completion"], "error: the following required arguments were not provided: <SHELL>; see 'pod completion --help'"),
        (vec!["completion", "tcsh"], "error: invalid value 'tcsh' for '<SHELL>' [possible values: bash, zsh, fish]; see 'pod completion --help'"),
        (vec!["serve", "--port", "x"], "error: invalid value 'x' for '--port <PORT>': invalid digit found in string; see 'pod serve --help'"),
        (vec!["serve", "--bogus"], "error: unexpected argument '--bogus' found; see 'pod serve --help'"),
        (vec!["kubeconfig"], "error: the following required arguments were not provided: <FILE>; see 'pod kubeconfig --help'"),
        (vec!["kubeconfig", bad_yaml], "error: "),
        (vec!["kubeconfig", "/nonexistent/dir/kc"], "error: writing /nonexistent/dir/kc"),
        (vec!["shell", "--bogus"], "error: unexpected argument '--bogus' found; see 'pod shell --help'"),
    ];
    let mut failures = Vec::new();
    for (args, wanted) in &rows {
        let (code, stderr) = fail(&env, args);
        let ok = code != 0
            && code != 101
            && stderr.lines().count() == 1
            && stderr.ends_with('\n')
            && stderr.starts_with(wanted)
            && !stderr.contains("panicked")
            && !stderr.contains("backtrace")
            && !repeats_a_cause(&stderr);
        if !ok {
            failures.push(format!("pod {args:?}: exit {code}, stderr {stderr:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
