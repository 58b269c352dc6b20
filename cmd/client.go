package cmd

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hako/engine"
	"hako/engine/localca"
)

// Client speaks HTTP+JSON to a running server's API.
type Client struct {
	URL   string
	Token string
	HTTP  *http.Client
	// TLS, for an https:// URL, trusts the system's roots and the local
	// CA of HAKO_HOME (hako ca:path).
	TLS *tls.Config
}

// streaming is an HTTP client without a timeout, for answers that last
// (log tails, builds), with the client's TLS settings.
func (c *Client) streaming() *http.Client {
	return &http.Client{Transport: c.transport()}
}

// transport is net/http's default one with the client's TLS settings.
func (c *Client) transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = c.TLS
	return t
}

// trustLocalCA returns a TLS configuration trusting the system's roots
// and the CA in home, when there is one.
func trustLocalCA(home string) *tls.Config {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if pem, err := os.ReadFile(localca.FilesIn(home).CACert); err == nil {
		roots.AppendCertsFromPEM(pem)
	}
	return &tls.Config{RootCAs: roots}
}

// ServerInfo is what the server writes to HAKO_HOME/server.json (mode
// 0600) so that client commands on the same machine find it.
type ServerInfo struct {
	APIURL   string `json:"api_url"`
	Token    string `json:"token"`
	SSHAddr  string `json:"ssh_addr"`
	HTTPAddr string `json:"http_addr"`
	// HTTPSAddr is the router's HTTPS address, CAFile the certificate of
	// the local CA its certificates (and the API's) chain to.
	HTTPSAddr string `json:"https_addr,omitempty"`
	CAFile    string `json:"ca_file,omitempty"`
	// RendezvousAddr is where `heroku run` attaches to one-off dynos.
	RendezvousAddr string `json:"rendezvous_addr,omitempty"`
	Domain         string `json:"domain"`
	PID            int    `json:"pid"`
}

// Home returns the data directory: HAKO_HOME, or ~/.hako.
func Home() (string, error) {
	if h := os.Getenv("HAKO_HOME"); h != "" {
		return filepath.Abs(h)
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory (set HAKO_HOME): %w", err)
	}
	return filepath.Join(h, ".hako"), nil
}

// readServerInfo reads the running server's address and token.
func readServerInfo(home string) (*ServerInfo, error) {
	data, err := os.ReadFile(engine.NewLayout(home).ServerInfo)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, engine.Errorf(engine.EUNAUTHORIZED, "No hako server is running with HAKO_HOME=%s: start one with `hako server`, or set HAKO_API_URL and HAKO_API_TOKEN.", home)
		}
		return nil, fmt.Errorf("read server address: %w", err)
	}
	var info ServerInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("read server address: %w", err)
	}
	return &info, nil
}

// NewClientFromEnv finds the server through HAKO_API_URL and
// HAKO_API_TOKEN, or through the file the server wrote in HAKO_HOME.
func NewClientFromEnv() (*Client, error) {
	c := &Client{URL: os.Getenv("HAKO_API_URL"), Token: os.Getenv("HAKO_API_TOKEN")}
	home, err := Home()
	if c.URL != "" {
		if c.Token == "" {
			return nil, engine.Errorf(engine.EUNAUTHORIZED, "HAKO_API_URL is set but HAKO_API_TOKEN is not: set both.")
		}
	} else {
		if err != nil {
			return nil, err
		}
		info, err := readServerInfo(home)
		if err != nil {
			return nil, err
		}
		c.URL, c.Token = info.APIURL, info.Token
	}
	c.TLS = &tls.Config{}
	// The system's roots take a parse of every certificate the system
	// trusts (10 ms or more, on every command): only an https:// API needs
	// them along with the local CA. Over http, an https address elsewhere
	// (a redirect) is still checked against the system's roots, which
	// crypto/tls then loads itself.
	if err == nil && strings.HasPrefix(strings.ToLower(c.URL), "https://") {
		c.TLS = trustLocalCA(home)
	}
	c.HTTP = &http.Client{Timeout: 10 * time.Minute, Transport: c.transport()}
	return c, nil
}

// Do sends a request with an optional JSON body and decodes the answer
// into out. API errors come back as *engine.Error with the API's code.
func (c *Client) Do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimRight(c.URL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return engine.Errorf(engine.EINTERNAL, "Cannot reach the hako server at %s: is `hako server` running? (%v)", c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		return apiError(resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// apiError turns an API error answer into the *engine.Error it carries.
func apiError(status string, body []byte) error {
	var e struct{ ID, Message string }
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return engine.Errorf(engine.EINTERNAL, "The server answered %s", status)
	}
	return &engine.Error{Code: e.ID, Message: e.Message}
}

// readAPIError reads an error answer's body (bounded) into an error.
func readAPIError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return apiError(resp.Status, data)
}
