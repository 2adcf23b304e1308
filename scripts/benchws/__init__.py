"""WebSocket fan-out benchmark: ocrlive's protocol against a plain aiohttp broadcast
and python-socketio rooms, in one run, on 127.0.0.1 only.

Each server runs in its own process (pinned to CPU 0), the clients in another (CPU 1),
and the orchestrating process only drives the servers through bench-only HTTP routes
(benchws.control, never part of the product), reads the servers' RSS with psutil and
collects delivery counts and latencies from the client process.

Scenarios per server and client count: idle memory per connection, steady (50 tasks x
10 updates/s), burst (one task, every client, events as fast as the server goes) and a
frozen client (one socket that subscribes and stops reading). ocrlive runs two ways on
the same sockets: the real path (TaskManager: group-committed SQLite, then the hub) and
"ocrlive/hub" (events straight into the hub, to isolate the WebSocket layer).

permessage-deflate: zlib cost and savings on ocrlive-sized frames, a probe that ocrlive
refuses the extension when a browser offers it, and the plain server (aiohttp's default
compress=True) with and without deflate clients, the cost ocrlive no longer pays.

Wall-clock rates suffer when another workload shares the CPUs; "us/dlv" (CPU time per
delivery) much less so. Every loop is bounded in count and time; the whole run stops
by itself (--budget-s).

Modules: plan (sizes), drivers (event sources), control (bench routes), server (the
server process), fleet (the client process), handles (both, seen from the
orchestrator), scenarios and frozen (the measurements), deflate, report, cli.
"""
