package engine

import (
	"bytes"
	"regexp"
	"strconv"
	"sync"
)

// TAPSummary counts the results of a Test Anything Protocol stream, which
// Heroku CI reads in a test run's output: "ok N - …" and "not ok N - …"
// lines after a plan ("1..N").
type TAPSummary struct {
	Planned int `json:"planned"`
	OK      int `json:"ok"`
	NotOK   int `json:"not_ok"`
}

var (
	tapPlan   = regexp.MustCompile(`^\s*1\.\.(\d+)\b`)
	tapResult = regexp.MustCompile(`^\s*(not )?ok\b(\s+\d+)?`)
)

// tapCounter reads a dyno's output line by line and counts what looks
// like TAP. Lines are bounded, so output without newlines cannot grow it.
type tapCounter struct {
	mu   sync.Mutex
	line []byte
	long bool // the current line passed the bound: ignored
	plan bool
	sum  TAPSummary
}

const maxTAPLine = 4096

func (c *tapCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !c.long {
			if len(c.line)+len(chunk) > maxTAPLine {
				c.long, c.line = true, c.line[:0]
			} else {
				c.line = append(c.line, chunk...)
			}
		}
		if i < 0 {
			break
		}
		if !c.long {
			c.readLine(bytes.TrimRight(c.line, "\r"))
		}
		c.line, c.long = c.line[:0], false
		p = p[i+1:]
	}
	return n, nil
}

func (c *tapCounter) readLine(line []byte) {
	if m := tapPlan.FindSubmatch(line); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		c.plan = true
		c.sum.Planned += n
		return
	}
	m := tapResult.FindSubmatch(line)
	if m == nil {
		return
	}
	// Go's "ok  \tpkg\t0.1s" is not TAP: a TAP result is "ok" alone, or
	// followed by a space, a number or " - ".
	rest := line[bytes.Index(line, []byte("ok"))+2:]
	if len(rest) > 0 && (rest[0] != ' ' || len(rest) > 1 && (rest[1] == ' ' || rest[1] == '\t')) {
		return
	}
	if len(m[1]) > 0 {
		c.sum.NotOK++
	} else {
		c.sum.OK++
	}
}

// summary returns the counts, or nil when the output held no TAP plan.
func (c *tapCounter) summary() *TAPSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.plan {
		return nil
	}
	s := c.sum
	return &s
}
