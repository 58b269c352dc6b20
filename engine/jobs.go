package engine

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"time"
	"unicode"
)

// SchedulerJob is a command the scheduler runs at a schedule in a one-off
// dyno (scheduler.1234) on the app's current release: one a user added
// (scheduler:add) or one app.json's cron declares.
type SchedulerJob struct {
	ID       string `json:"id"`
	App      string `json:"app"`
	Schedule string `json:"schedule"`
	Command  string `json:"command"`
	// Declared jobs come from app.json's cron and are replaced on each
	// deploy; the others stay until removed.
	Declared  bool      `json:"declared,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// LastRun is when the last run started (zero: never), LastDyno its
	// dyno and LastStatus its exit status (-1 while it runs).
	LastRun    time.Time `json:"last_run,omitempty"`
	LastDyno   string    `json:"last_dyno,omitempty"`
	LastStatus int       `json:"last_status"`
	// NextRun is when the scheduler runs it next; it is not stored.
	NextRun time.Time `json:"next_run,omitempty"`
}

// JobStore keeps the scheduler's jobs; the store implements it, one
// transaction per method.
type JobStore interface {
	// SchedulerJobs returns the app's jobs, oldest first; app "" returns
	// every app's.
	SchedulerJobs(app string) ([]*SchedulerJob, error)
	// PutSchedulerJob records a job, new or changed. Returns ENOTFOUND
	// when its app is gone.
	PutSchedulerJob(j *SchedulerJob) error
	// DeleteSchedulerJob removes one job. Returns ENOTFOUND.
	DeleteSchedulerJob(app, id string) error
	// SetDeclaredJobs replaces the app's declared jobs by jobs.
	SetDeclaredJobs(app string, jobs []*SchedulerJob) error
	// SetJobRun records a run of a job, if it still exists.
	SetJobRun(app, id string, at time.Time, dyno string, status int) error
}

// JobScheduler runs the jobs; the engine tells it of changes.
type JobScheduler interface {
	// Check says, as an EINVALID error, what is wrong with a schedule.
	Check(schedule string) error
	// Changed makes the scheduler read the jobs again.
	Changed()
	// RunNow starts a run of j at once. Returns ECONFLICT while one runs.
	RunNow(j *SchedulerJob) (dyno string, err error)
	// Next is when j runs next (zero: never).
	Next(j *SchedulerJob) time.Time
}

// noScheduler is the scheduler of an engine without one: jobs are kept
// but never run.
type noScheduler struct{}

func (noScheduler) Check(string) error { return nil }
func (noScheduler) Changed()           {}
func (noScheduler) RunNow(*SchedulerJob) (string, error) {
	return "", Errorf(EINVALID, "This server runs no scheduler.")
}
func (noScheduler) Next(*SchedulerJob) time.Time { return time.Time{} }

// maxCommand bounds a job's command.
const maxCommand = 4096

// SchedulerJobs lists the app's jobs with their next run. Returns
// ENOTFOUND.
func (e *Engine) SchedulerJobs(app string) ([]*SchedulerJob, error) {
	if _, err := e.App(app); err != nil {
		return nil, err
	}
	jobs, err := e.jobs().SchedulerJobs(app)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		j.NextRun = e.scheduler().Next(j)
	}
	return jobs, nil
}

// AllSchedulerJobs lists every app's jobs, for the scheduler.
func (e *Engine) AllSchedulerJobs() ([]*SchedulerJob, error) {
	return e.jobs().SchedulerJobs("")
}

// AddSchedulerJob adds a job to run command at schedule. Returns
// EINVALID or ENOTFOUND.
func (e *Engine) AddSchedulerJob(app, schedule, command, user string) (*SchedulerJob, error) {
	if _, err := e.App(app); err != nil {
		return nil, err
	}
	schedule, command = strings.TrimSpace(schedule), strings.TrimSpace(command)
	if command == "" {
		return nil, Errorf(EINVALID, "Usage: hako scheduler:add -a %s --schedule SCHEDULE -- COMMAND", app)
	}
	if len(command) > maxCommand || strings.ContainsFunc(command, unicode.IsControl) {
		return nil, Errorf(EINVALID, "The command must be one line of at most %d bytes, without control characters.", maxCommand)
	}
	if err := e.scheduler().Check(schedule); err != nil {
		return nil, err
	}
	j := &SchedulerJob{ID: jobID(), App: app, Schedule: schedule, Command: command, CreatedAt: time.Now().UTC()}
	count := func() (int, error) {
		jobs, err := e.jobs().SchedulerJobs(app)
		return len(jobs), err
	}
	refusal := Errorf(EINVALID, "An app may have at most %d scheduler jobs: remove one with `hako scheduler:remove`.", MaxSchedulerJobs)
	if err := e.withinBound(count, MaxSchedulerJobs, refusal, func() error { return e.jobs().PutSchedulerJob(j) }); err != nil {
		return nil, err
	}
	e.log(app, "api", "Add scheduler job %s (`%s` at %s) by user %s", j.ID, command, schedule, user)
	e.scheduler().Changed()
	j.NextRun = e.scheduler().Next(j)
	return j, nil
}

// RemoveSchedulerJob removes a job. Returns ENOTFOUND.
func (e *Engine) RemoveSchedulerJob(app, id, user string) error {
	if _, err := e.App(app); err != nil {
		return err
	}
	if err := e.jobs().DeleteSchedulerJob(app, id); err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "No scheduler job %s on %s: `hako scheduler -a %s` lists them.", id, app, app)
		}
		return err
	}
	e.log(app, "api", "Remove scheduler job %s by user %s", id, user)
	e.scheduler().Changed()
	return nil
}

// RunSchedulerJob runs a job now, in its own one-off dyno, and returns
// the dyno's name. Returns ENOTFOUND, or ECONFLICT while it runs.
func (e *Engine) RunSchedulerJob(app, id, user string) (string, error) {
	jobs, err := e.SchedulerJobs(app)
	if err != nil {
		return "", err
	}
	for _, j := range jobs {
		if j.ID == id {
			e.log(app, "api", "Run scheduler job %s by user %s", id, user)
			return e.scheduler().RunNow(j)
		}
	}
	return "", Errorf(ENOTFOUND, "No scheduler job %s on %s: `hako scheduler -a %s` lists them.", id, app, app)
}

// RunJob runs one run of a job in a one-off dyno scheduler.NNNN on the
// app's current release and records it; the scheduler calls it. started
// gets the dyno's name.
func (e *Engine) RunJob(ctx context.Context, j *SchedulerJob, started func(name string)) (int, error) {
	at := time.Now().UTC()
	var name string
	code, err := e.Run(ctx, RunRequest{App: j.App, Command: j.Command, User: "scheduler", Kind: "scheduler", Out: io.Discard,
		Started: func(n string) {
			name = n
			_ = e.jobs().SetJobRun(j.App, j.ID, at, n, -1)
			if started != nil {
				started(n)
			}
		}})
	if name != "" {
		if rerr := e.jobs().SetJobRun(j.App, j.ID, at, name, code); rerr != nil {
			e.logf("record run of job %s of %s: %v", j.ID, j.App, rerr)
		}
	}
	return code, err
}

// declareJobs replaces the app's declared jobs by app.json's cron,
// keeping the ID and last run of a job that stays the same.
func (e *Engine) declareJobs(app string, aj *AppJSON) error {
	var want []CronSpec
	if aj != nil {
		want = aj.Cron
	}
	old, err := e.jobs().SchedulerJobs(app)
	if err != nil {
		return err
	}
	var jobs []*SchedulerJob
	for _, c := range want {
		j := &SchedulerJob{ID: jobID(), App: app, Schedule: c.Schedule, Command: c.Command, Declared: true, CreatedAt: time.Now().UTC()}
		for _, o := range old {
			if o.Declared && o.Schedule == c.Schedule && o.Command == c.Command {
				j = o
			}
		}
		jobs = append(jobs, j)
	}
	if err := e.jobs().SetDeclaredJobs(app, jobs); err != nil {
		return err
	}
	e.scheduler().Changed()
	return nil
}

// checkCron checks app.json's cron schedules before a deploy goes on.
func (e *Engine) checkCron(aj *AppJSON) error {
	if aj == nil {
		return nil
	}
	if len(aj.Cron) > MaxSchedulerJobs {
		return Errorf(EINVALID, "app.json: cron has %d jobs: an app may declare at most %d.", len(aj.Cron), MaxSchedulerJobs)
	}
	for i, c := range aj.Cron {
		if err := e.scheduler().Check(c.Schedule); err != nil {
			return Errorf(EINVALID, "app.json: cron[%d].schedule: %s", i, ErrorMessage(err))
		}
	}
	return nil
}

// jobs is the store's JobStore.
func (e *Engine) jobs() JobStore {
	if js, ok := e.Store.(JobStore); ok {
		return js
	}
	return noJobs{}
}

func (e *Engine) scheduler() JobScheduler {
	if e.Scheduler == nil {
		return noScheduler{}
	}
	return e.Scheduler
}

// noJobs is the JobStore of a store that keeps none.
type noJobs struct{}

func (noJobs) SchedulerJobs(string) ([]*SchedulerJob, error) { return nil, nil }
func (noJobs) PutSchedulerJob(*SchedulerJob) error {
	return Errorf(EINVALID, "This server keeps no scheduler jobs.")
}
func (noJobs) DeleteSchedulerJob(string, string) error {
	return Errorf(ENOTFOUND, "No such scheduler job.")
}
func (noJobs) SetDeclaredJobs(string, []*SchedulerJob) error          { return nil }
func (noJobs) SetJobRun(string, string, time.Time, string, int) error { return nil }

// jobID returns a short random job ID: 8 hex digits.
func jobID() string {
	var b [4]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
