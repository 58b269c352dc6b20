# Answers GET /env/NAME with the value of NAME in the dyno's environment,
# GET /header/NAME with the request's header NAME, and GET /whoami with
# the dyno's user id, hostname and pid.
import os, socket
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/env/"):
            body = os.environ.get(self.path[5:], "<unset>")
        elif self.path.startswith("/header/"):
            body = self.headers.get(self.path[8:], "<unset>")
        elif self.path == "/whoami":
            body = "uid=%d host=%s pid=%d" % (os.getuid(), socket.gethostname(), os.getpid())
        else:
            body = "env-app"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


print("env-app listening", flush=True)
HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
