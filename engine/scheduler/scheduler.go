// Package scheduler runs the apps' scheduler jobs (scheduler:add, app.json's
// cron) at their schedules, each run a one-off dyno scheduler.NNNN on the
// app's current release, as Heroku Scheduler does. Schedules are parsed by
// robfig/cron: five-field cron lines, @hourly and the other descriptors,
// and @every DURATION (also written "every 10m").
package scheduler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"hako/engine"
)

// maxSchedule bounds a schedule's text.
const maxSchedule = 200

// Parse reads a schedule: a cron line ("*/10 * * * *"), a descriptor
// (@hourly, @daily, @weekly, @monthly, @yearly) or an interval ("@every
// 10m", "every 10m", at least a second). Errors are EINVALID and say what
// is accepted.
func Parse(spec string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	if strings.HasPrefix(s, "every ") {
		s = "@" + s
	}
	bad := func(why string) error {
		return engine.Errorf(engine.EINVALID, "Schedule %q is not valid (%s): give a cron line such as \"*/10 * * * *\", @hourly, @daily or \"every 10m\".", quote(spec), quote(why))
	}
	if s == "" {
		return nil, bad("it is empty")
	}
	if len(s) > maxSchedule {
		return nil, bad(fmt.Sprintf("longer than %d characters", maxSchedule))
	}
	// The parser would load a time zone from the host's files.
	if strings.Contains(s, "TZ=") {
		return nil, bad("time zones are not supported; schedules are in UTC")
	}
	if rest, ok := strings.CutPrefix(s, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, bad("the interval is not a duration such as 10m")
		}
		if d < time.Second {
			return nil, bad("the interval is shorter than a second")
		}
		return cron.Every(d), nil
	}
	sched, err := parse(s)
	if err != nil {
		return nil, bad(err.Error())
	}
	return sched, nil
}

// parse calls the cron parser, turning a panic of it into an error.
func parse(s string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("unreadable")
		}
	}()
	return cron.ParseStandard(s)
}

// quote shows at most 60 printable characters of a schedule.
func quote(s string) string {
	r := []rune(s)
	if len(r) > 60 {
		r = append(r[:60], '…')
	}
	for i, c := range r {
		if c < ' ' || c == 0x7f {
			r[i] = '?'
		}
	}
	return string(r)
}

// Scheduler runs every app's jobs. Make one with New, give it to the
// engine (engine.Parts.Scheduler), and Run it for the server's life.
type Scheduler struct {
	eng  *engine.Engine
	wake chan struct{}
	now  func() time.Time

	mu      sync.Mutex
	ctx     context.Context // Run's; nil until it runs
	wg      sync.WaitGroup
	entries map[string]*entry // by app/ID
}

// entry is the scheduler's state of one job.
type entry struct {
	spec    string
	sched   cron.Schedule
	next    time.Time
	running string // the dyno of the run under way, or ""
}

var _ engine.JobScheduler = (*Scheduler)(nil)

// New returns a scheduler of eng's jobs.
func New() *Scheduler {
	return &Scheduler{wake: make(chan struct{}, 1), now: time.Now, entries: map[string]*entry{}}
}

// SetEngine gives the scheduler the engine whose jobs it runs.
func (s *Scheduler) SetEngine(eng *engine.Engine) { s.eng = eng }

// Check implements engine.JobScheduler.
func (s *Scheduler) Check(schedule string) error {
	_, err := Parse(schedule)
	return err
}

// Changed implements engine.JobScheduler.
func (s *Scheduler) Changed() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next implements engine.JobScheduler.
func (s *Scheduler) Next(j *engine.SchedulerJob) time.Time {
	s.mu.Lock()
	var next time.Time
	e, ok := s.entries[key(j)]
	ok = ok && e.spec == j.Schedule
	if ok {
		next = e.next
	}
	s.mu.Unlock()
	if ok {
		return next.UTC()
	}
	sched, err := Parse(j.Schedule)
	if err != nil {
		return time.Time{}
	}
	return sched.Next(s.now()).UTC()
}

// RunNow implements engine.JobScheduler.
func (s *Scheduler) RunNow(j *engine.SchedulerJob) (string, error) {
	s.mu.Lock()
	if s.ctx == nil {
		s.mu.Unlock()
		return "", engine.Errorf(engine.EINVALID, "The scheduler is not running yet.")
	}
	e := s.entries[key(j)]
	if e == nil {
		sched, err := Parse(j.Schedule)
		if err != nil {
			s.mu.Unlock()
			return "", err
		}
		e = &entry{spec: j.Schedule, sched: sched, next: sched.Next(s.now())}
		s.entries[key(j)] = e
	}
	if running := e.running; running != "" {
		s.mu.Unlock()
		return "", engine.Errorf(engine.ECONFLICT, "Job %s is running already (%s).", j.ID, running)
	}
	named := s.start(j, e)
	s.mu.Unlock()
	name, ok := <-named
	if !ok {
		return "", engine.Errorf(engine.EINVALID, "Job %s could not run: `hako logs -a %s` says why.", j.ID, j.App)
	}
	return name, nil
}

func key(j *engine.SchedulerJob) string { return j.App + "/" + j.ID }

// Run runs the jobs at their schedules until ctx ends, then waits for the
// runs under way (which ctx's end stops) and returns nil. Runs missed
// while the server was down are not made up: each job's next run is
// counted from now.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.ctx = nil // no run starts from now on
		s.mu.Unlock()
		s.wg.Wait()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-s.wake:
		}
		wait := s.round()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// round starts the jobs that are due and returns how long to sleep until
// the next one (at most a minute, so that a store the engine did not say
// changed is read again).
func (s *Scheduler) round() time.Duration {
	jobs, err := s.eng.AllSchedulerJobs()
	if err != nil {
		s.eng.Logf("scheduler: %v", err)
		return 5 * time.Second
	}
	now := s.now()
	soonest := now.Add(time.Minute)
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, j := range jobs {
		k := key(j)
		seen[k] = true
		e := s.entries[k]
		if e == nil || e.spec != j.Schedule {
			sched, err := Parse(j.Schedule)
			if err != nil {
				continue
			}
			running := ""
			if e != nil {
				running = e.running
			}
			e = &entry{spec: j.Schedule, sched: sched, next: sched.Next(now), running: running}
			s.entries[k] = e
		}
		if !e.next.IsZero() && !e.next.After(now) {
			if e.running != "" {
				s.eng.Logs.Log(j.App, "heroku", "scheduler", fmt.Sprintf("Skipping a run of job %s (`%s`): its run on %s is still going", j.ID, j.Command, e.running))
			} else {
				s.start(j, e)
			}
			// Counted from now: a late round does not run a job twice.
			e.next = e.sched.Next(now)
		}
		if !e.next.IsZero() && e.next.Before(soonest) {
			soonest = e.next
		}
	}
	for k, e := range s.entries {
		if !seen[k] && e.running == "" {
			delete(s.entries, k)
		}
	}
	return max(soonest.Sub(s.now()), 0)
}

// start starts a run of j in its own goroutine; the channel it returns
// gets the run's dyno name once it is known, and is closed after. s.mu is
// held.
func (s *Scheduler) start(j *engine.SchedulerJob, e *entry) <-chan string {
	named := make(chan string, 1)
	e.running = "scheduler"
	ctx := s.ctx
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(named)
		_, err := s.eng.RunJob(ctx, j, func(name string) {
			s.mu.Lock()
			e.running = name
			s.mu.Unlock()
			named <- name
		})
		if err != nil && ctx.Err() == nil {
			s.eng.Logs.Log(j.App, "heroku", "scheduler", fmt.Sprintf("Job %s (`%s`) could not run: %s", j.ID, j.Command, engine.ErrorMessage(err)))
		}
		s.mu.Lock()
		e.running = ""
		s.mu.Unlock()
	}()
	return named
}
