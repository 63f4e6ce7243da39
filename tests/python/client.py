"""The Python `kubernetes` client against `pod serve`, driven by
tests/apiserver_python.rs: lists the pods, creates one, watches it from
the list's resourceVersion until it runs, deletes it and watches it go.

Usage: client.py KUBECONFIG. Prints one JSON object a line of what the
client saw, for the Rust test to check; any error of the client (a
refused request, a response it cannot deserialize into its models)
raises, and the exit status is not 0.
"""

import json
import sys

from kubernetes import client, config, watch

NAME = "made-by-python"


def say(**what):
    print(json.dumps(what), flush=True)


def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()

    # A list, deserialized into V1PodList / V1Pod by the client's models.
    pods = v1.list_namespaced_pod("default")
    say(step="list", names=[p.metadata.name for p in pods.items],
        phases=[p.status.phase for p in pods.items],
        resource_version=pods.metadata.resource_version)
    selected = v1.list_pod_for_all_namespaces(label_selector="made-by=cli")
    say(step="select", names=[p.metadata.name for p in selected.items])

    body = client.V1Pod(
        metadata=client.V1ObjectMeta(name=NAME, labels={"made-by": "python"}),
        spec=client.V1PodSpec(
            termination_grace_period_seconds=1,
            containers=[client.V1Container(
                name="app", image="busybox", image_pull_policy="Never",
                command=["sleep", "3600"])]))
    made = v1.create_namespaced_pod("default", body)
    say(step="create", name=made.metadata.name, uid=made.metadata.uid,
        resource_version=made.metadata.resource_version)

    # Every event of the new pod after the list, until it runs.
    seen = []
    w = watch.Watch()
    for event in w.stream(v1.list_namespaced_pod, "default",
                          field_selector="metadata.name=" + NAME,
                          resource_version=pods.metadata.resource_version,
                          timeout_seconds=120):
        pod = event["object"]
        seen.append([event["type"], pod.metadata.name, pod.status.phase])
        if pod.status.phase == "Running":
            w.stop()
    say(step="watch", events=seen)

    running = v1.read_namespaced_pod(NAME, "default")
    say(step="read", phase=running.status.phase,
        ready=[c.ready for c in running.status.container_statuses or []])

    v1.delete_namespaced_pod(NAME, "default", grace_period_seconds=0)
    gone = []
    for event in w.stream(v1.list_namespaced_pod, "default",
                          field_selector="metadata.name=" + NAME,
                          resource_version=running.metadata.resource_version,
                          timeout_seconds=120):
        gone.append(event["type"])
        if event["type"] == "DELETED":
            w.stop()
    say(step="delete", events=gone)


if __name__ == "__main__":
    main()
