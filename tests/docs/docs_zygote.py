"""A warm `gram` for the docs test: one process imports gram (torch, transformers: ~3 s) once and forks
a child per command, so a doc block's dozens of `gram` lines do not pay the import each time.

    python tests/docs/docs_zygote.py SOCKET                 # the server (the test starts it)
    python tests/docs/docs_zygote.py --client SOCKET ARGS   # one command: its stdio, cwd; exits with its status

The client hands the server its stdin, stdout and stderr (SCM_RIGHTS) with its arguments, folder and
environment;
the forked child runs tests/docs/docs_gram.py's main on them and sends back the exit status.
"""

import json
import os
import signal
import socket
import sys


def client(path: str, args: list[str]) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        socket.send_fds(s, [json.dumps({"args": args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()], [0, 1, 2])
        reply = b""
        while chunk := s.recv(64):
            reply += chunk
    return int(reply) if reply.strip() else 1


def run_child(conn, request: dict, fds: list[int]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the child's own subprocesses are waited for
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])  # `GRAM_SERVE_TOKEN=... gram serve` sets it for one command
    import docs_gram

    try:
        rc = docs_gram.main(request["args"])
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        rc = 1
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall(str(rc or 0).encode())
    os._exit(0)


def serve(path: str) -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import docs_gram  # noqa: F401
    import gram.cli  # noqa: F401  (what every command imports: torch, transformers)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    server.listen(16)
    os.rename(path + ".tmp", path)  # ready
    while True:
        conn, _ = server.accept()
        message, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        if os.fork() == 0:
            server.close()
            run_child(conn, json.loads(message), fds)
        conn.close()
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    if sys.argv[1] == "--client":
        sys.exit(client(sys.argv[2], sys.argv[3:]))
    serve(sys.argv[1])
