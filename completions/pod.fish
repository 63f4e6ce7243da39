# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pod_global_optspecs
    string join \n root= run-root= n/namespace= A/all-namespaces h/help V/version
end

function __fish_pod_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pod_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pod_using_subcommand
    set -l cmd (__fish_pod_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pod -n "__fish_pod_needs_command" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_needs_command" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_needs_command" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_needs_command" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_needs_command" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_needs_command" -s V -l version -d 'Print version'
complete -c pod -n "__fish_pod_needs_command" -f -a "create" -d 'Create objects from manifests (files, directories or stdin)'
complete -c pod -n "__fish_pod_needs_command" -f -a "apply" -d 'Create or update objects from manifests'
complete -c pod -n "__fish_pod_needs_command" -f -a "get" -d 'Display one or many objects'
complete -c pod -n "__fish_pod_needs_command" -f -a "describe" -d 'Show details of objects, with their events'
complete -c pod -n "__fish_pod_needs_command" -f -a "delete" -d 'Delete objects by name, by file, by label or all'
complete -c pod -n "__fish_pod_needs_command" -f -a "logs" -d 'Print the logs of a container'
complete -c pod -n "__fish_pod_needs_command" -f -a "exec" -d 'Run a command in a running container'
complete -c pod -n "__fish_pod_needs_command" -f -a "attach" -d 'Attach to the main process of a running container'
complete -c pod -n "__fish_pod_needs_command" -f -a "wait" -d 'Wait for a condition on objects'
complete -c pod -n "__fish_pod_needs_command" -f -a "label" -d 'Update the labels of objects'
complete -c pod -n "__fish_pod_needs_command" -f -a "annotate" -d 'Update the annotations of objects'
complete -c pod -n "__fish_pod_needs_command" -f -a "image" -d 'Manage images: list, pull, load, import, inspect, remove, prune'
complete -c pod -n "__fish_pod_needs_command" -f -a "version" -d 'Print the version of pod'
complete -c pod -n "__fish_pod_needs_command" -f -a "completion" -d 'Print a shell completion script (bash, zsh, fish)'
complete -c pod -n "__fish_pod_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pod -n "__fish_pod_using_subcommand create" -s f -l filename -d 'Files, directories or `-` (stdin) holding the manifests' -r
complete -c pod -n "__fish_pod_using_subcommand create" -l dry-run -d 'Only decode, default and validate: none, client or server' -r -f -a "none\t''
client\t''
server\t''"
complete -c pod -n "__fish_pod_using_subcommand create" -s o -l output -d 'Output format: yaml, json, name (default: a `pod/x created` line)' -r
complete -c pod -n "__fish_pod_using_subcommand create" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand create" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand create" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand create" -s R -l recursive -d 'Process the directories given with -f recursively'
complete -c pod -n "__fish_pod_using_subcommand create" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand create" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand apply" -s f -l filename -d 'Files, directories or `-` (stdin) holding the manifests' -r
complete -c pod -n "__fish_pod_using_subcommand apply" -l dry-run -d 'Only decode, default and validate: none, client or server' -r -f -a "none\t''
client\t''
server\t''"
complete -c pod -n "__fish_pod_using_subcommand apply" -s o -l output -d 'Output format: yaml, json, name' -r
complete -c pod -n "__fish_pod_using_subcommand apply" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand apply" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand apply" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand apply" -s R -l recursive -d 'Process the directories given with -f recursively'
complete -c pod -n "__fish_pod_using_subcommand apply" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand apply" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand get" -s f -l filename -d 'Files, directories or `-` naming the objects to show' -r
complete -c pod -n "__fish_pod_using_subcommand get" -s o -l output -d 'Output format: wide, yaml, json, kyaml, name, jsonpath=..., custom-columns=...' -r
complete -c pod -n "__fish_pod_using_subcommand get" -s l -l selector -d 'Label selector (=, ==, !=, in, notin, key, !key)' -r
complete -c pod -n "__fish_pod_using_subcommand get" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand get" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand get" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand get" -s R -l recursive -d 'Process the directories given with -f recursively'
complete -c pod -n "__fish_pod_using_subcommand get" -l no-headers -d 'Do not print the header row'
complete -c pod -n "__fish_pod_using_subcommand get" -l show-labels -d 'Add a LABELS column'
complete -c pod -n "__fish_pod_using_subcommand get" -s w -l watch -d 'After listing, watch for changes'
complete -c pod -n "__fish_pod_using_subcommand get" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand get" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand describe" -s f -l filename -d 'Files, directories or `-` naming the objects to describe' -r
complete -c pod -n "__fish_pod_using_subcommand describe" -s l -l selector -d 'Label selector' -r
complete -c pod -n "__fish_pod_using_subcommand describe" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand describe" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand describe" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand describe" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand describe" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand delete" -s f -l filename -d 'Files, directories or `-` naming the objects to delete' -r
complete -c pod -n "__fish_pod_using_subcommand delete" -s l -l selector -d 'Label selector (=, ==, !=, in, notin, key, !key)' -r
complete -c pod -n "__fish_pod_using_subcommand delete" -l grace-period -d 'Seconds given to the pod to end gracefully (-1: the pod\'s own)' -r
complete -c pod -n "__fish_pod_using_subcommand delete" -l wait -d 'Wait for the objects to be gone before returning' -r -f -a "true\t''
false\t''"
complete -c pod -n "__fish_pod_using_subcommand delete" -s o -l output -d 'Output format: name' -r
complete -c pod -n "__fish_pod_using_subcommand delete" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand delete" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand delete" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand delete" -s R -l recursive -d 'Process the directories given with -f recursively'
complete -c pod -n "__fish_pod_using_subcommand delete" -l all -d 'Delete every object of the given types in the namespace'
complete -c pod -n "__fish_pod_using_subcommand delete" -l force -d 'With --grace-period=0: delete immediately, without waiting'
complete -c pod -n "__fish_pod_using_subcommand delete" -l now -d 'Same as --grace-period=1'
complete -c pod -n "__fish_pod_using_subcommand delete" -l ignore-not-found -d 'Treat "not found" as success'
complete -c pod -n "__fish_pod_using_subcommand delete" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand delete" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand logs" -s c -l container -d 'The container' -r
complete -c pod -n "__fish_pod_using_subcommand logs" -l tail -d 'Lines from the end to show (-1: all)' -r
complete -c pod -n "__fish_pod_using_subcommand logs" -l since -d 'Only lines newer than this duration (5s, 2m, 3h)' -r
complete -c pod -n "__fish_pod_using_subcommand logs" -l since-time -d 'Only lines after this RFC3339 time' -r
complete -c pod -n "__fish_pod_using_subcommand logs" -l limit-bytes -d 'Maximum bytes to show' -r
complete -c pod -n "__fish_pod_using_subcommand logs" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand logs" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand logs" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand logs" -l all-containers -d 'Logs of every container of the pod'
complete -c pod -n "__fish_pod_using_subcommand logs" -l prefix -d 'Prefix each line with the pod and container name'
complete -c pod -n "__fish_pod_using_subcommand logs" -s f -l follow -d 'Follow the log'
complete -c pod -n "__fish_pod_using_subcommand logs" -s p -l previous -d 'The previous instance of the container'
complete -c pod -n "__fish_pod_using_subcommand logs" -l timestamps -d 'Show each line\'s timestamp'
complete -c pod -n "__fish_pod_using_subcommand logs" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand logs" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand exec" -s c -l container -d 'The container' -r
complete -c pod -n "__fish_pod_using_subcommand exec" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand exec" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand exec" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand exec" -s i -l stdin -d 'Pass stdin to the command'
complete -c pod -n "__fish_pod_using_subcommand exec" -s t -l tty -d 'Allocate a terminal'
complete -c pod -n "__fish_pod_using_subcommand exec" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand exec" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand attach" -s c -l container -d 'The container' -r
complete -c pod -n "__fish_pod_using_subcommand attach" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand attach" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand attach" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand attach" -s i -l stdin -d 'Pass stdin to the container'
complete -c pod -n "__fish_pod_using_subcommand attach" -s t -l tty -d 'Stdin is a terminal'
complete -c pod -n "__fish_pod_using_subcommand attach" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand attach" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand wait" -l for -d 'condition=NAME[=value], delete, create, or jsonpath=\'{...}\'=value' -r
complete -c pod -n "__fish_pod_using_subcommand wait" -l timeout -d 'How long to wait (30s, 5m; 0 checks once)' -r
complete -c pod -n "__fish_pod_using_subcommand wait" -s l -l selector -d 'Label selector' -r
complete -c pod -n "__fish_pod_using_subcommand wait" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand wait" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand wait" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand wait" -l all -d 'Every object of the given types'
complete -c pod -n "__fish_pod_using_subcommand wait" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand wait" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand label" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand label" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand label" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand label" -l overwrite -d 'Allow changing an existing value'
complete -c pod -n "__fish_pod_using_subcommand label" -l all -d 'Every object of the type in the namespace'
complete -c pod -n "__fish_pod_using_subcommand label" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand label" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand annotate" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand annotate" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand annotate" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand annotate" -l overwrite -d 'Allow changing an existing value'
complete -c pod -n "__fish_pod_using_subcommand annotate" -l all -d 'Every object of the type in the namespace'
complete -c pod -n "__fish_pod_using_subcommand annotate" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand annotate" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -f -a "ls" -d 'List images'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -f -a "load" -d 'Load images from a docker-archive or oci-archive (docker save, podman save)'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -f -a "import" -d 'Import a root filesystem tarball as a one-layer image'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -f -a "inspect" -d 'Display detailed information on images, as JSON'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -f -a "rm" -d 'Remove images'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -f -a "prune" -d 'Remove unreferenced blobs and layers, and with --all unused images'
complete -c pod -n "__fish_pod_using_subcommand image; and not __fish_seen_subcommand_from ls load import inspect rm prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: json' -r
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from ls" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from ls" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from ls" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Show only image IDs'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from ls" -l no-trunc -d 'Do not truncate image IDs'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from ls" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from load" -s i -l input -d 'The archive to read (plain, gzip or zstd); stdin when omitted or -' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from load" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from load" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from load" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from load" -s q -l quiet -d 'Print nothing'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from load" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from load" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from import" -s c -l change -d 'A Dockerfile instruction for the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR' -r
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from import" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from import" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from import" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Print only the image ID'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from import" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from inspect" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from inspect" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from inspect" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from inspect" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from rm" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from rm" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from rm" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from rm" -s f -l force -d 'Remove images even when pods use them'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from rm" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from prune" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from prune" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from prune" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from prune" -s a -l all -d 'Remove every image no pod uses, not only unreferenced content'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from prune" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List images'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "load" -d 'Load images from a docker-archive or oci-archive (docker save, podman save)'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import a root filesystem tarball as a one-layer image'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "inspect" -d 'Display detailed information on images, as JSON'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove images'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove unreferenced blobs and layers, and with --all unused images'
complete -c pod -n "__fish_pod_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pod -n "__fish_pod_using_subcommand version" -s o -l output -d 'Output format: json, yaml' -r
complete -c pod -n "__fish_pod_using_subcommand version" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand version" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand version" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand version" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand version" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand completion" -l root -d 'Directory of persistent state: pods, images, logs' -r -F
complete -c pod -n "__fish_pod_using_subcommand completion" -l run-root -d 'Directory of runtime state: sockets, mount points' -r -F
complete -c pod -n "__fish_pod_using_subcommand completion" -s n -l namespace -d 'The namespace of the objects' -r
complete -c pod -n "__fish_pod_using_subcommand completion" -s A -l all-namespaces -d 'List objects across all namespaces'
complete -c pod -n "__fish_pod_using_subcommand completion" -s h -l help -d 'Print help'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "create" -d 'Create objects from manifests (files, directories or stdin)'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "apply" -d 'Create or update objects from manifests'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "get" -d 'Display one or many objects'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "describe" -d 'Show details of objects, with their events'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "delete" -d 'Delete objects by name, by file, by label or all'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "logs" -d 'Print the logs of a container'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "exec" -d 'Run a command in a running container'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "attach" -d 'Attach to the main process of a running container'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "wait" -d 'Wait for a condition on objects'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "label" -d 'Update the labels of objects'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "annotate" -d 'Update the annotations of objects'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "image" -d 'Manage images: list, pull, load, import, inspect, remove, prune'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "version" -d 'Print the version of pod'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "completion" -d 'Print a shell completion script (bash, zsh, fish)'
complete -c pod -n "__fish_pod_using_subcommand help; and not __fish_seen_subcommand_from create apply get describe delete logs exec attach wait label annotate image version completion help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pod -n "__fish_pod_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "ls" -d 'List images'
complete -c pod -n "__fish_pod_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "load" -d 'Load images from a docker-archive or oci-archive (docker save, podman save)'
complete -c pod -n "__fish_pod_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "import" -d 'Import a root filesystem tarball as a one-layer image'
complete -c pod -n "__fish_pod_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "inspect" -d 'Display detailed information on images, as JSON'
complete -c pod -n "__fish_pod_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "rm" -d 'Remove images'
complete -c pod -n "__fish_pod_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "prune" -d 'Remove unreferenced blobs and layers, and with --all unused images'
