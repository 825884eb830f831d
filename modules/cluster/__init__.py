"""Many workers behind one queue, on Ray (docs/cluster.md). Imported only when a cluster flag is given."""
