"""``lakeplan ui``: a local web UI over the project's store (graph, assets, runs), served by Starlette."""
