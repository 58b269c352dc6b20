package sshgit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"hako/engine/frame"
)

// The hook protocol: the hook sends one JSON hookRequest line; the server
// answers with frames (package frame): Output to show the pusher, then
// Exit with the status.

// hookRequest is what a hook tells the server.
type hookRequest struct {
	// Hook is "pre-receive" (build and stage) or "post-receive" (git moved
	// the refs: go live).
	Hook  string   `json:"hook"`
	Token string   `json:"token"`
	Refs  []refArg `json:"refs"`
	// Env carries git's quarantine variables: the pushed objects are only
	// visible through them until the hook accepts the push.
	Env map[string]string `json:"env"`
}

type refArg struct {
	Old, New, Name string
}

// maxPushRefs bounds the refs one push may update: each is a line the
// hook sends and, when new, a file in the repository. maxHookRequest
// bounds the request line the server reads, above what that many refs
// of the longest names take.
const (
	maxPushRefs    = 10_000
	maxHookRequest = 64 << 20
)

// quarantineVars are the variables git sets for a pre-receive hook that
// the server needs to read the pushed objects.
var quarantineVars = []string{"GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH"}

// RunHook is the pre-receive or post-receive hook (hook names which): a
// thin client that hands the refs to the running server and prints what
// it streams back. Only the server opens the store, so the hook does
// nothing else. Returns the exit status.
func RunHook(hook string, stdin io.Reader, out io.Writer) int {
	sock, token := os.Getenv("HAKO_HOOK_SOCKET"), os.Getenv("HAKO_PUSH_TOKEN")
	if sock == "" || token == "" {
		fmt.Fprintln(out, " !     This hook only runs inside a push to a hako server.")
		return 1
	}
	req := hookRequest{Hook: hook, Token: token, Env: map[string]string{}}
	for _, k := range quarantineVars {
		if v, ok := os.LookupEnv(k); ok {
			req.Env[k] = v
		}
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 {
			req.Refs = append(req.Refs, refArg{Old: f[0], New: f[1], Name: f[2]})
		}
		if len(req.Refs) > maxPushRefs {
			fmt.Fprintf(out, " !     Push rejected: it updates more than %d branches and tags at once; push them in smaller groups.\n", maxPushRefs)
			return 1
		}
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		if hook == "post-receive" {
			fmt.Fprintf(out, " !     Cannot reach the hako server to put this push live (%v); it settles the release when the push ends, or at its next start.\n", err)
		} else {
			fmt.Fprintf(out, " !     Cannot reach the hako server to build this push (%v); is it still running?\n", err)
		}
		return 1
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		fmt.Fprintf(out, " !     Cannot send the push to the hako server: %v\n", err)
		return 1
	}
	r := bufio.NewReader(conn)
	for {
		kind, payload, err := frame.Read(r)
		if err != nil {
			if hook == "post-receive" {
				fmt.Fprintln(out, " !     The hako server stopped before the release went live; its next start makes it live.")
			} else {
				fmt.Fprintln(out, " !     The hako server stopped before the build finished; the push is rejected and nothing changed.")
			}
			return 1
		}
		switch kind {
		case frame.Output:
			_, _ = out.Write(payload)
		case frame.Exit:
			if len(payload) == 1 {
				return int(payload[0])
			}
			return 1
		}
	}
}
