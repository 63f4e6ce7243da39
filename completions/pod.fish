complete --keep-order --exclusive --command pod --arguments "(POD_COMPLETE=fish pod -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
