package engine

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"
	// Time zones come with the binary, so that a schedule's zone means
	// the same on a host without zoneinfo files.
	_ "time/tzdata"
)

// PGSchedule is a database's daily backup, as `heroku pg:backups:schedule
// --at '02:00 Europe/Paris'` sets it: one per database, kept on its
// add-on's record, run by the server's backup scheduler at Hour:00 in
// Timezone.
type PGSchedule struct {
	ID string `json:"id"`
	// Name is the config var the schedule was set through
	// (DATABASE_URL), which the CLI shows and unschedules it by.
	Name     string    `json:"name"`
	Hour     int       `json:"hour"`
	Timezone string    `json:"timezone"` // an IANA name: UTC, Europe/Paris
	Created  time.Time `json:"created_at"`
}

// Next is the schedule's first run after t: Hour:00 in its time zone.
// A zone the server cannot read counts as UTC (it was checked when set).
func (s *PGSchedule) Next(t time.Time) time.Time {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		loc = time.UTC
	}
	l := t.In(loc)
	next := time.Date(l.Year(), l.Month(), l.Day(), s.Hour, 0, 0, 0, loc)
	if !next.After(t) {
		next = time.Date(l.Year(), l.Month(), l.Day()+1, s.Hour, 0, 0, 0, loc)
	}
	return next
}

// zoneRe is the shape of an IANA time zone name: no path, no dots.
var zoneRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`)

// scheduleNameRe is a config var's name, as the CLI names a schedule.
var scheduleNameRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`)

// parseSchedule checks a schedule's hour (0 to 23) and time zone (an IANA
// name; "" is UTC). Returns EINVALID.
func parseSchedule(hour, zone string) (int, string, error) {
	h, err := strconv.Atoi(strings.TrimSpace(hour))
	if err != nil || h < 0 || h > 23 {
		return 0, "", Errorf(EINVALID, "The hour %q is not valid: give one from 0 to 23, as --at '02:00 UTC'.", short(hour))
	}
	if zone == "" {
		zone = "UTC"
	}
	if !zoneRe.MatchString(zone) || len(zone) > 64 {
		return 0, "", Errorf(EINVALID, "The time zone %q is not valid: give an IANA name such as UTC or Europe/Paris.", short(zone))
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return 0, "", Errorf(EINVALID, "The time zone %q is unknown: give an IANA name such as UTC or Europe/Paris.", short(zone))
	}
	return h, zone, nil
}

// short cuts user input down for a message.
func short(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}

// ScheduleBackups has the app's database (see pgDatabase) backed up every
// day at hour:00 in zone, replacing its schedule if it had one; name is
// the config var the CLI names the schedule by (default: the database's
// on the app). Bad input changes nothing. Returns ENOTFOUND, EFORBIDDEN
// or EINVALID.
func (e *Engine) ScheduleBackups(app, database, hour, zone, name, user string) (*PGSchedule, error) {
	h, zone, err := parseSchedule(hour, zone)
	if err != nil {
		return nil, err
	}
	via, a, err := e.pgDatabase(app, database, user)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = a.ConfigVar()
		for _, at := range a.AllAttachments() {
			if at.App == via.Name {
				name = at.ConfigVar()
				break
			}
		}
	}
	if !scheduleNameRe.MatchString(name) {
		return nil, Errorf(EINVALID, "The schedule's name %q is not valid: name it by the database's config var, as DATABASE_URL.", short(name))
	}
	s := &PGSchedule{ID: NewID(), Name: name, Hour: h, Timezone: zone, Created: time.Now().UTC()}
	if err := e.setSchedule(a, s); err != nil {
		return nil, err
	}
	e.log(via.Name, "api", "Daily backups of %s scheduled at %02d:00 %s by user %s", a.Name, h, zone, user)
	return s, nil
}

// Unschedule stops the daily backups of the app's database (see
// pgDatabase); id, when given, must be its schedule's. Returns ENOTFOUND,
// EFORBIDDEN or EINVALID.
func (e *Engine) Unschedule(app, database, id, user string) (*PGSchedule, error) {
	via, a, err := e.pgDatabase(app, database, user)
	if err != nil {
		return nil, err
	}
	s := a.BackupSchedule
	if s == nil || (id != "" && s.ID != id) {
		return nil, Errorf(ENOTFOUND, "%s has no daily backups: `hako pg:backups:schedules -a %s` lists them.", a.Name, via.Name)
	}
	if err := e.setSchedule(a, nil); err != nil {
		return nil, err
	}
	e.log(via.Name, "api", "Daily backups of %s stopped by user %s", a.Name, user)
	return s, nil
}

// setSchedule records s (nil: none) on add-on a's record, in its owning
// app.
func (e *Engine) setSchedule(a *Addon, s *PGSchedule) error {
	_, err := e.Store.UpdateApp(a.App, func(x *App) error {
		for i := range x.Addons {
			if x.Addons[i].ID == a.ID {
				x.Addons[i].BackupSchedule = s
				return nil
			}
		}
		return Errorf(ENOTFOUND, "The add-on %s is gone.", a.Name)
	})
	return err
}

// ScheduledDatabase is a database with a backup schedule, and the app
// that owns it.
type ScheduledDatabase struct {
	App      string
	Addon    Addon
	Schedule PGSchedule
}

// BackupSchedules lists the schedules of the databases attached to the
// app (its own and other apps'), or of every database for "" (the
// scheduler's view). Returns ENOTFOUND.
func (e *Engine) BackupSchedules(app string) ([]ScheduledDatabase, error) {
	var out []ScheduledDatabase
	if app != "" {
		on, err := e.attachmentsOn(app)
		if err != nil {
			return nil, err
		}
		if _, err := e.App(app); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, at := range on {
			if a := at.Addon; a.Service == pgService && a.BackupSchedule != nil && !seen[a.ID] {
				seen[a.ID] = true
				out = append(out, ScheduledDatabase{App: a.App, Addon: a, Schedule: *a.BackupSchedule})
			}
		}
		return out, nil
	}
	apps, err := e.Apps()
	if err != nil {
		return nil, err
	}
	for _, x := range apps {
		for _, a := range x.Addons {
			if a.Service == pgService && a.BackupSchedule != nil {
				out = append(out, ScheduledDatabase{App: x.Name, Addon: a, Schedule: *a.BackupSchedule})
			}
		}
	}
	return out, nil
}

// CaptureScheduled takes the scheduled backup of the database of add-on
// addonID, owned by app, if it still has schedule id: a schedule
// changed or removed meanwhile takes nothing. Returns ENOTFOUND.
func (e *Engine) CaptureScheduled(ctx context.Context, app, addonID, id string) (*PGBackup, error) {
	x, err := e.App(app)
	if err != nil {
		return nil, err
	}
	b, err := e.pgBackuper()
	if err != nil {
		return nil, err
	}
	for _, a := range x.Addons {
		if a.ID != addonID || a.BackupSchedule == nil || a.BackupSchedule.ID != id {
			continue
		}
		c, err := b.Begin(ctx, a.Resource, true)
		if err != nil {
			e.log(app, "scheduler", "Scheduled backup of %s failed: %s", a.Name, ErrorMessage(err))
			return nil, err
		}
		bk, dropped, err := c.Run(ctx)
		if err != nil {
			e.log(app, "scheduler", "Scheduled backup of %s failed: %s", a.Name, ErrorMessage(err))
			e.recordFailedCapture(&a, &c.Backup, a.As, err)
			return nil, err
		}
		bk.App, bk.Addon, bk.AddonID = app, a.Name, a.ID
		e.log(app, "scheduler", "Scheduled backup %s of %s captured", bk.ID, a.Name)
		if len(dropped) > 0 {
			e.log(app, "scheduler", "Removed %s to keep within the limits", strings.Join(dropped, ", "))
		}
		return bk, nil
	}
	return nil, Errorf(ENOTFOUND, "The schedule %s of %s is gone.", id, app)
}

// atRe is the heroku CLI's --at: "HOUR:00 [TIMEZONE]".
var atRe = regexp.MustCompile(`^(0?\d|1\d|2[0-3]):00 ?(\S*)$`)

// atZones are the abbreviations the heroku CLI turns into IANA names.
var atZones = map[string]string{
	"BST": "Europe/London", "CDT": "America/Chicago", "CEST": "Europe/Paris", "CET": "Europe/Paris",
	"CST": "America/Chicago", "EDT": "America/New_York", "EST": "America/New_York", "GMT": "Europe/London",
	"MDT": "America/Boise", "MST": "America/Boise", "PDT": "America/Los_Angeles", "PST": "America/Los_Angeles", "Z": "UTC",
}

// ParseAt reads a schedule's --at as the heroku CLI does ("02:00",
// "2:00 Europe/Paris", "14:00 PST") into an hour and an IANA time zone.
// Returns EINVALID.
func ParseAt(at string) (hour, zone string, err error) {
	m := atRe.FindStringSubmatch(strings.TrimSpace(at))
	if m == nil {
		return "", "", Errorf(EINVALID, "Invalid schedule format %q: expected --at '[HOUR]:00 [TIMEZONE]', as '02:00 UTC'.", short(at))
	}
	zone = m[2]
	if z, ok := atZones[strings.ToUpper(zone)]; ok {
		zone = z
	}
	if _, zone, err = parseSchedule(m[1], zone); err != nil {
		return "", "", err
	}
	return m[1], zone, nil
}
