# python3 probe.py HOST:PORT...: prints "HOST:PORT open" for each address
# a TCP connection reaches within two seconds, "HOST:PORT closed" for the
# others (refused, dropped or unreachable).
import socket, sys


def probe(target):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return "open"
    except OSError:
        return "closed"


if __name__ == "__main__":
    for target in sys.argv[1:]:
        print(target, probe(target), flush=True)
