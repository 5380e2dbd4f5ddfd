"""`python -m bench.serve_target TARGET PORT`: one target on uvicorn, served identically for
every target (uvloop + httptools, one process, access log off, warnings only)."""

import sys

import uvicorn

from bench.targets import TARGETS


def main() -> None:
    target, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(TARGETS[target](), host="127.0.0.1", port=port, loop="uvloop",
                http="httptools", log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
