"""`python -m bench.serve_target TARGET PORT [WORKERS]`: one target on uvicorn, served
identically for every target (uvloop + httptools, access log off, warnings only), in one
process or, with WORKERS, in that many worker processes behind one socket."""

import sys

import uvicorn

from bench.targets import TARGETS


def main() -> None:
    target, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    if workers > 1:  # uvicorn starts each worker from an import string
        assert target in TARGETS
        uvicorn.run(f"bench.targets:{TARGETS[target].__name__}", factory=True,
                    host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                    workers=workers, log_level="warning", log_config=None, access_log=False)
        return
    uvicorn.run(TARGETS[target](), host="127.0.0.1", port=port, loop="uvloop",
                http="httptools", log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
