# Answers GET /addr with the dyno's own IPv4 address (the one its packets
# leave with), GET /env/NAME with NAME from its environment, and anything
# else with "net-app". It listens on every address of its namespace.
import os, socket
from http.server import BaseHTTPRequestHandler, HTTPServer


def own_address():
    # Connecting a UDP socket sends nothing: it only picks the route.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.254", 9))
        return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/addr":
            body = own_address()
        elif self.path.startswith("/env/"):
            body = os.environ.get(self.path[5:], "<unset>")
        else:
            body = "net-app"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
