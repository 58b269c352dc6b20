// The smallest Node.js web app: it answers every request on $PORT with one line.
const http = require("http");

const port = process.env.PORT || 5000;
http
  .createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("hello from node\n");
  })
  .listen(port, () => console.log(`listening on :${port}`));
