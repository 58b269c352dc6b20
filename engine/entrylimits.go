package engine

// Bounds on the records a user can add to the store. Each is kept for
// good and read back whole (a user's keys at every SSH log-in, an app's
// scheduler jobs at every round of the scheduler, each of which starts a
// one-off dyno at its schedule), so none may grow without end.
const (
	// MaxSchedulerJobs bounds an app's scheduler jobs added with
	// scheduler:add (app.json's cron, at most as many, comes on top).
	MaxSchedulerJobs = 50
	// MaxKeysPerUser bounds a user's SSH keys, MaxTokensPerUser their API
	// tokens, MaxPipelinesPerUser the pipelines they own.
	MaxKeysPerUser      = 100
	MaxTokensPerUser    = 100
	MaxPipelinesPerUser = 50
)

// withinBound runs add unless count says max are there already; then it
// returns refusal and add does not run. Counting and adding happen under
// one lock, so that concurrent requests cannot slip past a bound
// together.
func (e *Engine) withinBound(count func() (int, error), max int, refusal error, add func() error) error {
	e.entriesMu.Lock()
	defer e.entriesMu.Unlock()
	n, err := count()
	if err != nil {
		return err
	}
	if n >= max {
		return refusal
	}
	return add()
}
