package dashboard

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"hako/engine"
)

// The steps the explain panel narrates, in the order a deploy takes them.
var explainSteps = []string{"push", "detect", "compile", "slug", "release", "dynos", "router"}

// Step is one step of a deploy as the explain panel shows it.
type Step struct {
	Step   string    `json:"step"` // one of explainSteps, or "failed"
	Text   string    `json:"text"`
	Time   time.Time `json:"time"`
	Detail []string  `json:"detail,omitempty"` // build output under it
}

// Narrative is an app's latest deploy, step by step.
type Narrative struct {
	App      string `json:"app"`
	Steps    []Step `json:"steps"`
	Done     bool   `json:"done"`
	Failed   bool   `json:"failed"`
	inDeploy bool
}

// maxDetail bounds the output lines kept under a step.
const maxDetail = 40

func (n *Narrative) last() *Step {
	if len(n.Steps) == 0 {
		return nil
	}
	return &n.Steps[len(n.Steps)-1]
}

// reached reports whether the narrative has come to step.
func (n *Narrative) reached(step string) bool {
	for _, s := range n.Steps {
		if s.Step == step {
			return true
		}
	}
	return false
}

func (n *Narrative) add(step, text string, t time.Time) {
	n.Steps = append(n.Steps, Step{Step: step, Text: text, Time: t})
}

// narrate takes one of the engine's deploy steps; it reports whether the
// narrative changed.
func (n *Narrative) narrate(step, detail string, t time.Time) bool {
	switch step {
	case engine.StepPush:
		*n = Narrative{App: n.App, inDeploy: true}
		n.add("push", "Push received: "+detail, t)
	case engine.StepOutput:
		if !n.inDeploy {
			return false
		}
		line := strings.TrimSpace(detail)
		head, isHead := strings.CutPrefix(line, "-----> ")
		switch {
		case isHead && strings.HasSuffix(head, "app detected"):
			n.add("detect", "Detected: "+head, t)
		case isHead && !n.reached("compile") && n.reached("detect"):
			n.add("compile", "Compiling: "+head, t)
		case isHead && head == "Compressing...":
			return false // the slug step follows with its size
		default:
			if s := n.last(); s != nil && len(s.Detail) < maxDetail {
				s.Detail = append(s.Detail, line)
			}
		}
	case engine.StepSlug:
		if !n.inDeploy {
			return false
		}
		if !n.reached("compile") {
			n.add("compile", "Compiled", t)
		}
		size, sha, _ := strings.Cut(detail, " ")
		b, _ := strconv.ParseInt(size, 10, 64)
		n.add("slug", fmt.Sprintf("Slug %s, sha256 %s", humanBytes(b), short(sha, 12)), t)
	case engine.StepLive:
		if !n.inDeploy {
			return false
		}
		n.add("router", "Router switched to "+detail+": the new web dynos take its requests", t)
		n.inDeploy, n.Done = false, true
	case engine.StepFailed:
		if !n.inDeploy {
			return false
		}
		n.add("failed", "Failed: "+detail, t)
		n.inDeploy, n.Failed = false, true
	default:
		return false
	}
	return true
}

// logLine takes an app log line during a deploy: the release and its
// dynos starting. It reports whether the narrative changed.
func (n *Narrative) logLine(source, proc, text string, t time.Time) bool {
	if !n.inDeploy {
		return false
	}
	switch {
	case proc == "api" && strings.HasPrefix(text, "Release v") && strings.Contains(text, " created by user "):
		v, _, _ := strings.Cut(strings.TrimPrefix(text, "Release "), " ")
		n.add("release", "Release "+v+" written (pending until it serves)", t)
	case source == "heroku" && strings.HasPrefix(text, "Starting process with command"):
		if !n.reached("dynos") {
			n.add("dynos", "Dynos starting: "+proc, t)
		} else if s := n.last(); s != nil && len(s.Detail) < maxDetail {
			s.Detail = append(s.Detail, proc+" starting")
		}
	case source == "heroku" && strings.HasPrefix(text, "State changed from starting to up") && n.reached("dynos"):
		if s := n.last(); s != nil && len(s.Detail) < maxDetail {
			s.Detail = append(s.Detail, proc+" up")
		}
	default:
		return false
	}
	return true
}

func humanBytes(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
