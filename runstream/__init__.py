"""The assembly package: the `runstream` command, the local broker, the demo, and the settings each process
composes. It wires the layers below it (schemas, producer, consumers, query_api) into processes."""
