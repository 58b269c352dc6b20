package engine

// The host identities hako runs other people's code as. Every app gets a
// uid (and a gid of the same number) of its own, stored on its record, so
// that one app's processes cannot read another's (/proc/PID/environ holds
// config vars), signal them, write its files or use up the kernel's
// per-uid limits (processes, inotify instances) in its place. The add-on
// servers run under one more uid that no app ever gets. The range sits
// far above the ids distributions hand out to people and system services
// (below 60000) and above nobody (65534), so that none of these ids
// belongs to anyone else on the host.
const (
	// AddonUID is the uid and gid of the add-on servers (PostgreSQL,
	// Redis) when hako runs as root.
	AddonUID = 200000
	// FirstAppUID and LastAppUID bound the uids given to apps.
	FirstAppUID = 200001
	LastAppUID  = FirstAppUID + 1<<20 - 1
)

// ValidAppUID reports whether uid is one hako gives to apps.
func ValidAppUID(uid int) bool {
	return uid >= FirstAppUID && uid <= LastAppUID
}

// identity returns the uid and gid the app's builds and dynos run as.
// Returns ENOTFOUND.
func (e *Engine) identity(app string) (uid, gid int, err error) {
	a, err := e.Store.App(app)
	if err != nil {
		return 0, 0, err
	}
	return a.UID, a.UID, nil
}
